"""What the config bases declare: smoothed energy logs (the digits teacher:
test_digits_teacher.py)."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch

from tests.helpers import CONFIGS
from tests.test_configs.mmpretrain_launcher import train_like_mmpretrain

SMOOTHED = ('energy_low', 'energy_mid', 'energy_high', 'heda_num',
            'heda_share')


def test_energy_logs_are_window_means(tmp_path):
    """The logged energy shares / HE-DA counts are the mean of the window.

    12 steps, logged every 6 with MMEngine's window of 10: the value logged
    at step s is the mean of the per-step values of steps max(1, s - 9)..s,
    computed here from the message hub's per-step history.
    """
    torch.set_num_threads(1)
    path = osp.join(
        CONFIGS, 'energykd-heda',
        'energykd-heda_cifarresnet20_cifarresnet8_1xb64_30e_digits.py')
    work_dir = str(tmp_path / 'work')
    _, cfg, runner = train_like_mmpretrain(
        path,
        work_dir,
        data={},
        extra=[
            'train_dataloader.dataset.indices=24',
            'default_hooks.logger.interval=6'
        ])
    assert runner.iter == 12
    hub = runner.message_hub
    logged = [
        json.loads(line) for line in open(
            glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))[0])
    ]
    logged = {row['step']: row for row in logged if 'energy_low' in row}
    assert sorted(logged) == [6, 12]
    varied = False
    for key in SMOOTHED:
        steps = hub.get_scalar(f'train/{key}').data[0]
        assert len(steps) == 12, key
        varied |= len(set(np.round(steps, 6))) > 1
        for step in (6, 12):
            window = steps[max(0, step - 10):step]
            assert logged[step][key] == pytest.approx(
                float(np.mean(window)), abs=1e-4), (key, step)
    # the per-step values differ, so the mean is not the last value
    assert varied
