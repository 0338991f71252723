# Copyright (c) mmenergykd contributors. All rights reserved.
"""tools/analysis_tools/analyze_energy.py, run as a program on a digits
config (sklearn's bundled digits: nothing downloaded; a teacher with random
weights saved here stands in for the trained one).

Every CSV energy is recomputed from the teacher's logits on the images the
tool documents it uses (the training pipeline, each sample's transforms
seeded from its index and the run's seed as in the calibration pass).
"""
import glob
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from tests.helpers import CONFIGS, REPO, build_model, save_teacher_for
from tests.test_apis.energy_checks import (check_energies,
                                           check_groups_and_shares,
                                           check_pictures,
                                           check_rule_thresholds,
                                           check_weighted_accuracy,
                                           read_outputs, teacher_logits)

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'analyze_energy.py')
DIGITS_MEAN, DIGITS_STD = 77.84, 95.89


def _config() -> str:
    found = glob.glob(
        osp.join(CONFIGS, '**',
                 'energykd_cifarresnet20_cifarresnet8_1xb64_30e_digits.py'),
        recursive=True)
    assert len(found) == 1, found
    return found[0]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, TOOL, *args],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=600)


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp('digits_analysis')
    config = _config()
    cfg = Config.fromfile(config)
    teacher = save_teacher_for(cfg, str(root / 'teacher.pth'), seed=0)
    return dict(root=root, config=config, cfg=cfg, teacher=teacher)


def _training_images(cfg: Config) -> list:
    """The training images as the tool documents it sees them."""
    from mmenergykd.engine.calibration import SeededSamples
    from mmenergykd.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    seeded = SeededSamples(dataset, int(cfg.randomness.seed))
    return [seeded[i] for i in range(len(dataset))]


def _teacher(cfg: Config, path: str) -> torch.nn.Module:
    from mmenergykd.models.utils import resolve_model_cfg
    model = build_model(resolve_model_cfg(cfg.model.teacher, 'teacher'))
    model.load_state_dict(torch.load(path, weights_only=True)['state_dict'])
    return model


def test_digits_training_split(digits, tmp_path):
    out = str(tmp_path / 'out')
    result = _run(digits['config'], '--out', out, '--cfg-options',
                  f"model.teacher_ckpt={digits['teacher']}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'thresholds: tau_low' in result.stdout
    assert '898/898' in result.stdout  # the progress bar reached the end
    rows, summary = read_outputs(out)
    assert len(rows) == 898 and summary['split'] == 'train'
    items = _training_images(digits['cfg'])
    logits = teacher_logits(
        _teacher(digits['cfg'], digits['teacher']),
        [i['inputs'] for i in items], DIGITS_MEAN, DIGITS_STD)
    check_energies(rows, logits, temperature=4.0)
    assert [int(r['label']) for r in rows] == \
        [int(i['data_samples'].gt_label) for i in items]
    check_groups_and_shares(rows, summary)
    check_rule_thresholds(rows, summary)
    check_weighted_accuracy(summary, 'teacher_top1')
    check_pictures(out)
    # deterministic: a second run writes the same CSV
    again = str(tmp_path / 'again')
    assert _run(digits['config'], '--out', again, '--no-progress',
                '--cfg-options',
                f"model.teacher_ckpt={digits['teacher']}").returncode == 0
    with open(osp.join(out, 'energies.csv')) as a, \
            open(osp.join(again, 'energies.csv')) as b:
        assert a.read() == b.read()


def test_checkpoint_of_another_teacher_is_refused(digits, tmp_path):
    cfg = digits['cfg']
    # a training checkpoint of a distiller whose teacher is digits['teacher']
    model_cfg = dict(
        cfg.model.to_dict(),
        teacher_ckpt=digits['teacher'],
        data_preprocessor=dict(
            type='ClsDataPreprocessor', **cfg.data_preprocessor))
    distiller = build_model(model_cfg)
    distiller.energy_loss().set_thresholds(-12.0, -11.0)
    ckpt = str(tmp_path / 'epoch_30.pth')
    torch.save(dict(meta=dict(), state_dict=distiller.state_dict()), ckpt)
    other = save_teacher_for(cfg, str(tmp_path / 'other.pth'), seed=1)
    out = str(tmp_path / 'out')
    result = _run(digits['config'], '--checkpoint', ckpt, '--split', 'val',
                  '--out', out, '--cfg-options', f'model.teacher_ckpt={other}')
    assert result.returncode != 0
    assert 'different teacher' in result.stderr
    assert not osp.exists(osp.join(out, 'energies.csv'))
    # the same checkpoint with its own teacher: its thresholds are used
    result = _run(digits['config'], '--checkpoint', ckpt, '--split', 'val',
                  '--out', out, '--no-progress', '--cfg-options',
                  f"model.teacher_ckpt={digits['teacher']}")
    assert result.returncode == 0, result.stderr[-3000:]
    rows, summary = read_outputs(out)
    assert len(rows) == 899
    assert summary['thresholds'] == dict(low=-12.0, high=-11.0)
    check_groups_and_shares(rows, summary)
    check_weighted_accuracy(summary, 'student_top1')
    assert np.isclose(
        summary['teacher_top1']['all'],
        np.mean([r['teacher_pred'] == r['label'] for r in rows]) * 100)
