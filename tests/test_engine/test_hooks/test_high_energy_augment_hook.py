import os.path as osp

import pytest
import torch
from mmengine.runner import Runner

import mmenergykd.engine.calibration as calibration
import mmenergykd.engine.calibration_policy as calib_hook_module
from tests.helpers import (make_imagenet_folder, save_tiny_teacher,
                           tiny_runner_cfg)

LOSSES = dict(loss_energykd=dict(type='EnergyKDLoss'))
HEDA = dict(type='HighEnergyAugmentHook', high_ratio=0.5, kd_term='energy')


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('heda')
    make_imagenet_folder(
        str(root / 'data'), num_train=16, num_val=4, classes=5, size=20)
    return str(root / 'data'), save_tiny_teacher(str(root / 't.pth'))


def history(runner, key):
    return runner.message_hub.get_scalar(key).data[0].tolist()


def run(work_dir,
        root,
        ckpt,
        max_epochs=2,
        resume=False,
        hooks=None,
        augment=True):
    cfg = tiny_runner_cfg(
        work_dir,
        root,
        ckpt,
        distill_losses=LOSSES,
        custom_hooks=hooks or [dict(type='EnergyCalibrationHook'), HEDA],
        max_epochs=max_epochs,
        shuffle=True,
        augment=augment,
        seed=7)
    cfg.resume = resume
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_one_shared_calibration_pass(data, tmp_path, monkeypatch):
    root, ckpt = data
    calls = []
    original = calibration.calibrate_energy

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(calib_hook_module, 'calibrate_energy', counting)
    runner = run(str(tmp_path), root, ckpt, max_epochs=1)
    assert len(calls) == 1
    model = runner.model
    assert model.high_energy_augment.is_calibrated
    assert model.distill_losses['loss_energykd'].is_calibrated
    # HE-DA alone (KD + HE-DA) calibrates by itself
    calls.clear()
    runner = run(
        str(tmp_path / 'kd'),
        root,
        ckpt,
        max_epochs=1,
        hooks=[dict(HEDA, kd_term='kd')])
    assert len(calls) == 1
    nums = history(runner, 'train/heda_num')
    assert all(n == 0 or n >= 2 for n in nums) and sum(nums) > 0


def test_same_seed_same_losses(data, tmp_path):
    root, ckpt = data
    first = run(str(tmp_path / 'a'), root, ckpt)
    second = run(str(tmp_path / 'b'), root, ckpt)
    for key in ('train/loss', 'train/loss_heda', 'train/heda_num'):
        assert history(first, key) == history(second, key), key
    assert sum(history(first, 'train/heda_num')) > 0


def test_resume_continues_with_same_state(data, tmp_path):
    # Deterministic transforms isolate HE-DA's own random state (CutMix's
    # lambda, box and partners), which the hook stores in the checkpoint.
    root, ckpt = data
    full = run(str(tmp_path / 'full'), root, ckpt, max_epochs=2, augment=False)
    part = str(tmp_path / 'part')
    run(part, root, ckpt, max_epochs=1, augment=False)
    resumed = run(part, root, ckpt, max_epochs=2, resume=True, augment=False)
    # the resumed epoch logs the same losses as epoch 2 of the full run
    per_epoch = len(history(resumed, 'train/loss_heda')) // 2
    for key in ('train/loss', 'train/loss_heda', 'train/heda_num'):
        expected = history(full, key)[per_epoch:]
        got = history(resumed, key)[per_epoch:]
        assert got == pytest.approx(expected, abs=1e-6), key
    assert full.model.high_energy_augment.rng_state() == \
        resumed.model.high_energy_augment.rng_state()
    # nothing write-only in the checkpoint: the generator is re-seeded
    saved = torch.load(
        osp.join(part, 'epoch_2.pth'), map_location='cpu', weights_only=False)
    assert set(saved['high_energy_augment']) == {'num_augmented', 'num_seen'}
    for (k, v), (k2, v2) in zip(full.model.state_dict().items(),
                                resumed.model.state_dict().items()):
        assert k == k2
        assert torch.allclose(v.float(), v2.float(), atol=1e-6), k
