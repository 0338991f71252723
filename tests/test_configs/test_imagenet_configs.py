"""ImageNet configs: the expected set and MMPretrain's settings.

Every config trains two iterations in test_train_every_config.py.
"""
import glob
import os.path as osp

from mmengine.config import Config

from mmenergykd.models.utils import resolve_model_cfg
from tests.helpers import CONFIGS

IMAGENET_CONFIGS = sorted(glob.glob(osp.join(CONFIGS, '*', '*_in1k.py')))


def test_expected_configs_exist():
    names = {osp.relpath(p, CONFIGS) for p in IMAGENET_CONFIGS}
    assert names == {
        'energykd/res34_res18_in1k.py',
        'energykd/energykd-release_resnet34_resnet18_8xb32_100e_'
        'in1k.py',
        'energykd/energykd_resnet50_mobilenetv2_8xb32_100e_in1k.py',
        'energydkd/energydkd_resnet34_resnet18_8xb32_100e_in1k.py',
        'kd/kd_resnet34_resnet18_8xb32_100e_in1k.py',
        'dkd/dkd_resnet34_resnet18_8xb32_100e_in1k.py',
        'kd-heda/kd-heda_resnet34_resnet18_8xb32_100e_in1k.py',
        'energykd-heda/energykd-heda_resnet34_resnet18_8xb32_100e_in1k.py',
        'mlkd/mlkd_resnet34_resnet18_8xb32_100e_in1k.py',
        'energymlkd/energymlkd_resnet34_resnet18_8xb32_100e_in1k.py',
        # distillation-token students and a teacher with its own input
        'deit/deit_convnext-small_deit-tiny_4xb256_300e_in1k.py',
        'deit/deit_convnext-small_deit-small_4xb256_300e_in1k.py',
        'energykd/energykd_convnext-small_deit-tiny_4xb256_300e_in1k.py',
        'energykd/energykd_convnext-small_deit-small_4xb256_300e_in1k.py',
        'kd/kd_efficientnet-b3-advprop_resnet18_8xb32_100e_in1k.py',
        'energykd/energykd_efficientnet-b3-advprop_resnet18_8xb32_100e_'
        'in1k.py'
    }


def test_imagenet_settings_from_mmpretrain_bases():
    cfg = Config.fromfile(osp.join(CONFIGS, 'energykd/res34_res18_in1k.py'))
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.train_dataloader.batch_size * 8 == 256
    assert cfg.auto_scale_lr.base_batch_size == 256
    assert cfg.train_dataloader.dataset.type == 'ImageNet'
    assert cfg.model.teacher_ckpt.startswith('https://download.openmmlab.com')
    # MMPretrain's own ResNet configs, as mmrazor's distill configs name them
    assert cfg.model.teacher == 'mmpretrain::resnet/resnet34_8xb32_in1k.py'
    assert cfg.model.student == 'mmpretrain::resnet/resnet18_8xb32_in1k.py'
    assert resolve_model_cfg(cfg.model.teacher, 'teacher').backbone.depth == 34
    assert resolve_model_cfg(cfg.model.student, 'student').backbone.depth == 18
    # declared in the bases, not by a launcher
    assert cfg.train_cfg.type == 'ResumableEpochBasedTrainLoop'
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
    assert cfg.train_dataloader.persistent_workers is False
    assert any(h.type == 'EnergyCalibrationHook' for h in cfg.custom_hooks)
    paper = cfg.model.distill_losses.loss_energykd
    release = Config.fromfile(
        osp.join(
            CONFIGS, 'energykd/energykd-release_resnet34_resnet18_'
            '8xb32_100e_in1k.py')).model.distill_losses.loss_energykd
    assert paper.low_energy_temperature > paper.high_energy_temperature
    assert release.low_energy_temperature < release.high_energy_temperature


def test_imagenet_recipes_on_the_method_bases():
    """Each ImageNet config keeps its recipe (written out here) on top of
    its method's base (configs/_base_/distill/)."""

    def loss(rel, name):
        cfg = Config.fromfile(osp.join(CONFIGS, rel))
        return cfg.model, cfg.model.distill_losses[name]

    model, kd = loss('kd/kd_resnet34_resnet18_8xb32_100e_in1k.py', 'loss_kd')
    assert (kd.temperature, kd.loss_weight) == (1.0, 3.0)
    assert model.student_loss_weight == 1.0
    model, dkd = loss('dkd/dkd_resnet34_resnet18_8xb32_100e_in1k.py',
                      'loss_dkd')
    assert (dkd.alpha, dkd.beta, dkd.temperature) == (1.0, 0.5, 1.0)
    assert model.loss_warmup_epochs == dict(loss_dkd=1)
    model, edkd = loss(
        'energydkd/energydkd_resnet34_resnet18_8xb32_100e_in1k.py',
        'loss_energydkd')
    assert (edkd.beta, edkd.low_ratio, edkd.high_ratio) == (0.5, 0.1, 0.1)
    assert (edkd.low_energy_temperature, edkd.mid_temperature,
            edkd.high_energy_temperature) == (1.5, 1.0, 0.5)
    assert model.loss_warmup_epochs == dict(loss_energydkd=1)
    for rel, name in (('mlkd/mlkd_resnet34_resnet18_8xb32_100e_in1k.py',
                       'loss_mlkd'),
                      ('energymlkd/energymlkd_resnet34_resnet18_8xb32_100e_'
                       'in1k.py', 'loss_energymlkd')):
        model, mlkd = loss(rel, name)
        assert tuple(mlkd.temperatures) == (1.0, 3.0, 5.0, 2.0, 6.0)
        assert mlkd.loss_weight == model.student_loss_weight == 0.5
    model, ekd = loss('energykd/res34_res18_in1k.py', 'loss_energykd')
    assert (ekd.loss_weight, ekd.low_ratio, ekd.high_ratio) == (3.0, 0.2, 0.2)
    mbv2 = Config.fromfile(
        osp.join(
            CONFIGS, 'energykd/energykd_resnet50_mobilenetv2_8xb32_'
            '100e_in1k.py')).model
    assert mbv2.distill_losses == model.distill_losses
    assert mbv2.student.endswith('mobilenet-v2_8xb32_in1k.py')
    assert 'resnet50_8xb32_in1k' in mbv2.teacher_ckpt
