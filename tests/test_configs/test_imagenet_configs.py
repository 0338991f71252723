"""ImageNet configs: the expected set and MMPretrain's settings.

Every config trains two iterations in test_train_every_config.py.
"""
import glob
import os.path as osp

from mmengine.config import Config

from tests.helpers import CONFIGS

IMAGENET_CONFIGS = sorted(glob.glob(osp.join(CONFIGS, '*', '*_in1k.py')))


def test_expected_configs_exist():
    names = {osp.relpath(p, CONFIGS) for p in IMAGENET_CONFIGS}
    assert names == {
        'energykd/res34_res18_in1k.py',
        'energykd-release/energykd-release_resnet34_resnet18_8xb32_100e_'
        'in1k.py', 'energykd/energykd_resnet50_mobilenetv2_8xb32_100e_in1k.py',
        'energydkd/energydkd_resnet34_resnet18_8xb32_100e_in1k.py',
        'kd/kd_resnet34_resnet18_8xb32_100e_in1k.py',
        'dkd/dkd_resnet34_resnet18_8xb32_100e_in1k.py',
        'kd-heda/kd-heda_resnet34_resnet18_8xb32_100e_in1k.py',
        'energykd-heda/energykd-heda_resnet34_resnet18_8xb32_100e_in1k.py',
        'mlkd/mlkd_resnet34_resnet18_8xb32_100e_in1k.py',
        'energymlkd/energymlkd_resnet34_resnet18_8xb32_100e_in1k.py'
    }


def test_imagenet_settings_from_mmpretrain_bases():
    cfg = Config.fromfile(osp.join(CONFIGS, 'energykd/res34_res18_in1k.py'))
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.train_dataloader.batch_size * 8 == 256
    assert cfg.auto_scale_lr.base_batch_size == 256
    assert cfg.train_dataloader.dataset.type == 'ImageNet'
    assert cfg.model.teacher_ckpt.startswith('https://download.openmmlab.com')
    assert cfg.model.teacher.backbone.depth == 34
    assert cfg.model.student.backbone.depth == 18
    # declared in the bases, not by a launcher
    assert cfg.train_cfg.type == 'ResumableEpochBasedTrainLoop'
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
    assert cfg.train_dataloader.persistent_workers is False
    assert any(h.type == 'EnergyCalibrationHook' for h in cfg.custom_hooks)
    paper = cfg.model.distill_losses.loss_energykd
    release = Config.fromfile(
        osp.join(
            CONFIGS, 'energykd-release/energykd-release_resnet34_resnet18_'
            '8xb32_100e_in1k.py')).model.distill_losses.loss_energykd
    assert paper.low_energy_temperature > paper.high_energy_temperature
    assert release.low_energy_temperature < release.high_energy_temperature
