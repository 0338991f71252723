"""Every ImageNet config builds and trains two iterations on tiny data."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from tests.helpers import (CONFIGS, make_imagenet_folder, save_teacher_for,
                           tiny_imagenet_cfg)

IMAGENET_CONFIGS = sorted(
    p for folder in ('energykd', 'energydkd', 'kd', 'dkd', 'heda')
    for p in glob.glob(osp.join(CONFIGS, folder, '*.py')))


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return make_imagenet_folder(
        str(tmp_path_factory.mktemp('imagenet')), num_train=4, num_val=2)


@pytest.fixture(scope='module')
def teacher_ckpts(tmp_path_factory):
    cache = {}

    def get(config):
        depth = config.model.teacher.backbone.get('depth')
        if depth not in cache:
            path = str(tmp_path_factory.mktemp('teacher') / f'r{depth}.pth')
            cache[depth] = save_teacher_for(config, path)
        return cache[depth]

    return get


def test_expected_configs_exist():
    names = {osp.relpath(p, CONFIGS) for p in IMAGENET_CONFIGS}
    assert {
        'energykd/res34_res18_in1k.py', 'energykd/res34_res18_in1k_release.py',
        'energykd/res50_mbv2_in1k.py', 'energydkd/res34_res18_in1k.py',
        'kd/res34_res18_in1k.py', 'dkd/res34_res18_in1k.py',
        'heda/kd_res34_res18_in1k.py', 'heda/energykd_res34_res18_in1k.py'
    } <= names


def test_imagenet_settings_from_mmpretrain_bases():
    cfg = Config.fromfile(osp.join(CONFIGS, 'energykd/res34_res18_in1k.py'))
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.train_dataloader.batch_size * 8 == 256
    assert cfg.auto_scale_lr.base_batch_size == 256
    assert cfg.train_dataloader.dataset.type == 'ImageNet'
    assert cfg.model.teacher_ckpt.startswith('https://download.openmmlab.com')
    assert cfg.model.teacher.backbone.depth == 34
    assert cfg.model.student.backbone.depth == 18
    assert any(h.type == 'EnergyCalibrationHook' for h in cfg.custom_hooks)
    paper = cfg.model.distill_losses.loss_energykd
    release = Config.fromfile(
        osp.join(CONFIGS, 'energykd/res34_res18_in1k_release.py')
    ).model.distill_losses.loss_energykd
    assert paper.low_energy_temperature > paper.high_energy_temperature
    assert release.low_energy_temperature < release.high_energy_temperature


@pytest.mark.parametrize(
    'config_path',
    IMAGENET_CONFIGS,
    ids=[osp.relpath(p, CONFIGS) for p in IMAGENET_CONFIGS])
def test_config_trains_two_iterations(config_path, data_root, teacher_ckpts,
                                      tmp_path):
    config = Config.fromfile(config_path)
    ckpt = teacher_ckpts(config)
    cfg = tiny_imagenet_cfg(config_path, str(tmp_path), data_root, ckpt)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    hub = runner.message_hub
    for name in config.model.distill_losses:
        assert torch.isfinite(
            torch.tensor(hub.get_scalar(f'train/{name}').current()))
    hooks = {h['type'] for h in config.get('custom_hooks', [])}
    model = runner.model
    if hooks & {'EnergyCalibrationHook', 'HighEnergyAugmentHook'}:
        assert all(c.is_calibrated for c in model.energy_consumers().values())
    if 'HighEnergyAugmentHook' in hooks:
        assert 'train/loss_heda' in hub.log_scalars
    assert 'val/accuracy/top1' in hub.log_scalars
    saved = torch.load(
        osp.join(str(tmp_path), 'epoch_1.pth'), weights_only=False)
    assert not any(k.startswith('teacher') for k in saved['state_dict'])
