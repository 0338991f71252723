import os.path as osp

import pytest
import torch
from mmengine.runner import Runner

import mmenergykd.engine.calibration_policy as calib_module
from mmenergykd.models.energy import energy_score
from tests.helpers import (make_imagenet_folder, save_tiny_teacher,
                           tiny_runner_cfg)

LOSSES = dict(
    loss_energykd=dict(type='EnergyKDLoss', low_ratio=0.25, high_ratio=0.25),
    loss_energydkd=dict(
        type='EnergyDKDLoss', low_ratio=0.125, high_ratio=0.375))


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('calib')
    make_imagenet_folder(
        str(root / 'data'), num_train=10, num_val=4, classes=5, size=20)
    return str(root / 'data'), save_tiny_teacher(str(root / 't.pth'))


def independent_energies(runner, num_full):
    """Teacher energies of the first ``num_full`` training samples."""
    model = runner.model
    dataset = runner.train_dataloader.dataset
    batch = dict(
        inputs=[dataset[i]['inputs'] for i in range(num_full)],
        data_samples=[dataset[i]['data_samples'] for i in range(num_full)])
    inputs = model.data_preprocessor(batch, False)['inputs']
    with torch.no_grad():
        logits = model.teacher.head(model.teacher.extract_feat(inputs))
    return energy_score(logits, 4.0)


def test_thresholds_follow_sorted_index_rule_and_resume(
        data, tmp_path, monkeypatch):
    root, ckpt = data
    cfg = tiny_runner_cfg(
        str(tmp_path / 'work'),
        root,
        ckpt,
        distill_losses=LOSSES,
        custom_hooks=[dict(type='EnergyCalibrationHook')])
    runner = Runner.from_cfg(cfg)
    runner.train()
    # 10 samples, batch 4, no shuffle: the last partial batch (2) is dropped
    energies = independent_energies(runner, 8)
    ordered = sorted(energies.tolist())
    n = len(ordered)
    for name, (low_r, high_r) in (('loss_energykd', (0.25, 0.25)),
                                  ('loss_energydkd', (0.125, 0.375))):
        loss = runner.model.distill_losses[name]
        assert loss.low_threshold.item() == pytest.approx(
            ordered[int(n * low_r)], abs=1e-5)
        assert loss.high_threshold.item() == pytest.approx(
            ordered[n - int(n * high_r) - 1], abs=1e-5)
    saved = torch.load(
        osp.join(str(tmp_path / 'work'), 'epoch_1.pth'), weights_only=False)
    stored = saved['energy_calibration']
    assert stored['num_samples'] == 8
    assert stored['thresholds']['loss_energykd'][0] == pytest.approx(
        ordered[2], abs=1e-5)
    assert 'distill_losses.loss_energykd.low_threshold' in \
        saved['state_dict']
    assert not any(k.startswith('teacher') for k in saved['state_dict'])

    # resume: thresholds come back from the checkpoint, no second pass
    def no_calibration(*args, **kwargs):
        raise AssertionError('a resumed run must not recalibrate')

    monkeypatch.setattr(calib_module, 'calibrate_energy', no_calibration)
    cfg2 = tiny_runner_cfg(
        str(tmp_path / 'work'),
        root,
        ckpt,
        distill_losses=LOSSES,
        custom_hooks=[dict(type='EnergyCalibrationHook')],
        max_epochs=2)
    cfg2.resume = True
    resumed = Runner.from_cfg(cfg2)
    resumed.train()
    assert resumed.epoch == 2
    for name in LOSSES:
        old = runner.model.distill_losses[name]
        new = resumed.model.distill_losses[name]
        assert new.low_threshold.item() == old.low_threshold.item()
        assert new.high_threshold.item() == old.high_threshold.item()


def test_too_small_training_set_is_a_clear_error(data, tmp_path):
    root, ckpt = data
    cfg = tiny_runner_cfg(
        str(tmp_path / 'w'),
        root,
        ckpt,
        distill_losses=LOSSES,
        custom_hooks=[dict(type='EnergyCalibrationHook')],
        batch_size=16)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='fewer samples than'):
        runner.train()
    assert not osp.exists(str(tmp_path / 'w' / 'epoch_1.pth'))
