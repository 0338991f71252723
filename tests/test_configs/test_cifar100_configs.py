"""CIFAR-100 / CIFAR-100-LT pair configs: all build; one pair trains."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmenergykd.models.utils import resolve_model_cfg
from tests.helpers import (CONFIGS, build_model, make_cifar100_folder,
                           save_openmmlab_checkpoint)

CIFAR_CONFIGS = sorted(
    p for folder in ('cifar100', 'cifar100_lt')
    for p in glob.glob(osp.join(CONFIGS, folder, '*', '*.py'))
    if '_base_' not in p)

PAIRS = [('wrn_40_2', 'wrn_16_2'), ('resnet56', 'resnet20'), ('vgg13', 'vgg8'),
         ('resnet32x4', 'shufflenetv2'), ('vgg13', 'mobilenetv2'),
         ('resnet32x4', 'resnet8x4')]


def test_every_release_pair_and_method_has_a_config():
    names = {osp.basename(p) for p in CIFAR_CONFIGS}
    for teacher, student in PAIRS:
        # KD / DKD baselines for every pair (ResNet32x4 -> ResNet8x4 is the
        # release's own kd.yaml / dkd.yaml pair), on both schedules
        methods = [
            'kd-heda_{}_240e_cifar100', 'kd_{}_240e_cifar100',
            'kd_{}_360e_cifar100', 'dkd_{}_240e_cifar100',
            'dkd_{}_360e_cifar100', 'kd_{}_240e_cifar100-lt',
            'dkd_{}_240e_cifar100-lt', 'kd-heda_{}_240e_cifar100-lt'
        ]
        if student != 'resnet8x4':
            methods += [
                'energykd_{}_240e_cifar100', 'energykd_{}_360e_cifar100',
                'energykd-release_{}_240e_cifar100',
                'energykd-release_{}_360e_cifar100',
                'energydkd_{}_240e_cifar100', 'energydkd_{}_360e_cifar100',
                'energydkd-release_{}_360e_cifar100',
                'energykd_{}_240e_cifar100-lt', 'energydkd_{}_240e_cifar100-lt'
            ]
        for method in methods:
            name = method.format(f'{teacher}_{student}_1xb64') + '.py'
            assert name in names, name


def test_release_recipe():
    cfg = Config.fromfile(
        osp.join(
            CONFIGS, 'cifar100/energykd-release/energykd-release_'
            'resnet56_resnet20_1xb64_360e_cifar100.py'))
    loss = cfg.model.distill_losses.loss_energykd
    assert (loss.low_energy_temperature, loss.mid_temperature,
            loss.high_energy_temperature) == (2.0, 4.0, 6.0)
    assert cfg.model.student_loss_weight == 0.1 and loss.loss_weight == 0.9
    assert cfg.train_cfg.max_epochs == 360
    assert cfg.param_scheduler.milestones == [150, 180, 210, 240, 270, 300]
    assert cfg.train_dataloader.batch_size == 64
    assert cfg.optim_wrapper.optimizer.weight_decay == 5e-4
    heda = Config.fromfile(
        osp.join(
            CONFIGS, 'cifar100/kd-heda/kd-heda_resnet56_resnet20_'
            '1xb64_240e_cifar100.py'))
    assert heda.custom_hooks[0].high_ratio == 0.4
    mbv2 = Config.fromfile(
        osp.join(CONFIGS, 'cifar100/kd/kd_vgg13_mobilenetv2_1xb64_240e_'
                 'cifar100.py'))
    assert mbv2.optim_wrapper.optimizer.lr == 0.01
    lt = Config.fromfile(
        osp.join(CONFIGS, 'cifar100_lt/kd/kd_vgg13_vgg8_1xb64_240e_'
                 'cifar100-lt.py'))
    assert lt.train_dataloader.dataset.type == 'CIFAR100LT'
    assert lt.train_dataloader.dataset.imb_factor == 100


def _config(method, teacher, student, epochs=240, dataset='cifar100'):
    name = (f'{method}_{teacher}_{student}_1xb64_{epochs}e_'
            f'{dataset.replace("_", "-")}.py')
    return Config.fromfile(osp.join(CONFIGS, dataset, method, name))


# mdistiller's per-pair DKD beta (configs/cifar100/dkd/*.yaml; 8 where unset)
DKD_BETA = {
    ('wrn_40_2', 'wrn_16_2'): 6.0,
    ('resnet56', 'resnet20'): 2.0,
    ('vgg13', 'vgg8'): 6.0,
    ('resnet32x4', 'shufflenetv2'): 8.0,
    ('vgg13', 'mobilenetv2'): 6.0,
    ('resnet32x4', 'resnet8x4'): 8.0
}


@pytest.mark.parametrize('pair', PAIRS)
def test_per_pair_recipe(pair):
    teacher, student = pair
    dkd = _config('dkd', teacher, student).model
    assert dkd.distill_losses.loss_dkd.beta == DKD_BETA[pair]
    assert dkd.loss_warmup_epochs == dict(loss_dkd=20)
    kd_360 = _config('kd', teacher, student, 360)
    assert kd_360.train_cfg.max_epochs == 360
    assert kd_360.model == _config('kd', teacher, student).model
    if student == 'resnet8x4':
        return
    edkd = _config('energydkd', teacher, student).model.distill_losses
    assert edkd.loss_energydkd.beta == DKD_BETA[pair]
    assert (edkd.loss_energydkd.low_ratio,
            edkd.loss_energydkd.high_ratio) == (0.1, 0.1)
    ekd = _config('energykd', teacher, student).model.distill_losses
    # the release's energy_kd/res56_res20.yaml sets 0.3 / 0.3; others 0.2
    ratio = 0.3 if student == 'resnet20' else 0.2
    assert (ekd.loss_energykd.low_ratio,
            ekd.loss_energykd.high_ratio) == (ratio, ratio)


def test_every_cifar_model_builds():
    built = {}
    for path in CIFAR_CONFIGS:
        model = Config.fromfile(path).model
        for role in ('student', 'teacher'):
            ref = model[role]
            if ref not in built:
                net = build_model(resolve_model_cfg(ref, role))
                out = net(torch.zeros(1, 3, 32, 32), mode='tensor')
                assert out.shape == (1, 100), (path, role)
                built[ref] = True
    assert len(built) == 10


@pytest.mark.parametrize('rel', [
    'cifar100/energykd/energykd_wrn_40_2_wrn_16_2_1xb64_240e_cifar100.py',
    'cifar100_lt/kd-heda/kd-heda_resnet56_resnet20_1xb64_240e_cifar100-lt.py'
])
def test_pair_trains_two_iterations_on_tiny_cifar(rel, tmp_path):
    root = make_cifar100_folder(str(tmp_path / 'cifar'), train_per_class=1)
    cfg = Config.fromfile(osp.join(CONFIGS, rel))
    teacher = build_model(resolve_model_cfg(cfg.model.teacher, 'teacher'))
    cfg.model.teacher_ckpt = save_openmmlab_checkpoint(
        teacher, str(tmp_path / 'teacher.pth'))
    cfg.work_dir = str(tmp_path / 'work')
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset.data_root = root
        # tiny files: skip the md5 check and never download
        loader.dataset.type = 'CIFAR100LT'
        loader.dataset.check_md5 = False
        loader.dataset.imb_factor = loader.dataset.get('imb_factor', 1)
    cfg.train_dataloader.batch_size = 50
    cfg.val_dataloader.batch_size = 50
    cfg.train_cfg = dict(by_epoch=False, max_iters=2, val_interval=2)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=2, by_epoch=False)
    cfg.param_scheduler = []
    cfg.log_level = 'WARNING'
    if 'cifar100-lt' in rel:
        # 100 classes, imbalance 100, 1 image per class in the tiny file
        cfg.train_dataloader.dataset.imb_factor = 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    assert all(c.is_calibrated
               for c in runner.model.energy_consumers().values())
    assert 'val/accuracy/top1' in runner.message_hub.log_scalars


def test_model_configs_build_in_plain_mmpretrain():
    # A fresh process that never imports mmenergykd itself: each model
    # config's custom_imports registers the CIFAR backbones.
    import subprocess
    import sys
    paths = sorted(
        glob.glob(osp.join(CONFIGS, '_base_', 'models', 'cifar100', '*.py')))
    assert len(paths) == 22
    script = f'''
import sys, torch, mmpretrain
assert 'mmenergykd' not in sys.modules
for path in {paths!r}:
    model = mmpretrain.get_model(path)
    out = model(torch.zeros(1, 3, 32, 32), mode='tensor')
    assert out.shape == (1, 100), path
print('OK', len({paths!r}))
'''
    result = subprocess.run([sys.executable, '-c', script],
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'OK 22' in result.stdout
