"""CIFAR-100 / CIFAR-100-LT pair configs: recipes per pair, models build.

They sit in their method's folder (``configs/<method>/``; the release
direction beside the paper's). Every config trains two iterations in
test_train_every_config.py.
"""
import ast
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from tests.helpers import CONFIGS

CIFAR_CONFIGS = sorted(
    p for pattern in ('*_cifar100.py', '*_cifar100-lt.py')
    for p in glob.glob(osp.join(CONFIGS, '*', pattern)))

PAIRS = [('resnet32x4', 'resnet8x4'), ('wrn_40_2', 'wrn_16_2'),
         ('wrn_40_2', 'wrn_40_1'), ('resnet110', 'resnet32'),
         ('vgg13', 'vgg8'), ('wrn_40_2', 'shufflenetv1'),
         ('resnet32x4', 'shufflenetv1'), ('resnet32x4', 'shufflenetv2'),
         ('vgg13', 'mobilenetv2'), ('resnet50', 'mobilenetv2'),
         ('resnet56', 'resnet20')]
# the pairs the Energy KD release ships (HE-DA, 360 epochs, CIFAR-100-LT)
RELEASE_PAIRS = [('wrn_40_2', 'wrn_16_2'), ('resnet56', 'resnet20'),
                 ('vgg13', 'vgg8'), ('resnet32x4', 'shufflenetv2'),
                 ('vgg13', 'mobilenetv2'), ('resnet32x4', 'resnet8x4')]
# MLKD's configs/cifar100/ours/<pair>.yaml: (lr, epochs)
MLKD_RECIPE = {
    ('resnet32x4', 'resnet8x4'): (0.025, 240),
    ('wrn_40_2', 'wrn_16_2'): (0.025, 240),
    ('wrn_40_2', 'wrn_40_1'): (0.025, 240),
    ('resnet110', 'resnet32'): (0.025, 240),
    ('vgg13', 'vgg8'): (0.025, 240),
    ('wrn_40_2', 'shufflenetv1'): (0.0025, 480),
    ('resnet32x4', 'shufflenetv1'): (0.01, 480),
    ('resnet32x4', 'shufflenetv2'): (0.01, 480),
    ('vgg13', 'mobilenetv2'): (0.0025, 480),
    ('resnet50', 'mobilenetv2'): (0.0025, 480),
    ('resnet56', 'resnet20'): (0.025, 240),
}


def test_every_pair_and_method_has_a_config():
    names = {osp.basename(p) for p in CIFAR_CONFIGS}
    for teacher, student in PAIRS:
        epochs = MLKD_RECIPE[(teacher, student)][1]
        methods = [
            'kd_{}_240e_cifar100', 'dkd_{}_240e_cifar100',
            f'mlkd_{{}}_{epochs}e_cifar100', 'energykd_{}_240e_cifar100',
            'energykd-release_{}_240e_cifar100', 'energydkd_{}_240e_cifar100',
            'energydkd-release_{}_240e_cifar100',
            f'energymlkd_{{}}_{epochs}e_cifar100'
        ]
        if (teacher, student) in RELEASE_PAIRS:
            methods += [
                'kd-heda_{}_240e_cifar100', 'kd_{}_360e_cifar100',
                'dkd_{}_360e_cifar100', 'kd_{}_240e_cifar100-lt',
                'dkd_{}_240e_cifar100-lt', 'kd-heda_{}_240e_cifar100-lt'
            ]
        if (teacher, student) in RELEASE_PAIRS and student != 'resnet8x4':
            methods += [
                'energykd_{}_360e_cifar100',
                'energykd-release_{}_360e_cifar100',
                'energydkd_{}_360e_cifar100',
                'energydkd-release_{}_360e_cifar100',
                'energykd_{}_240e_cifar100-lt', 'energydkd_{}_240e_cifar100-lt'
            ]
        for method in methods:
            name = method.format(f'{teacher}_{student}_1xb64') + '.py'
            assert name in names, name


@pytest.mark.parametrize('pair', PAIRS)
def test_mlkd_recipe(pair):
    lr, epochs = MLKD_RECIPE[pair]
    for method in ('mlkd', 'energymlkd'):
        cfg = _config(method, *pair, epochs)
        assert cfg.optim_wrapper.optimizer.lr == lr
        assert cfg.train_cfg.max_epochs == epochs
        assert cfg.param_scheduler.milestones == [150, 180, 210]
        assert cfg.model.student_loss_weight == 0.1
        loss = cfg.model.distill_losses[f'loss_{method}']
        assert tuple(loss.temperatures) == (4.0, 3.0, 5.0, 2.0, 6.0)
        assert loss.loss_weight == 0.9
    energy = _config('energymlkd', *pair, epochs).model.distill_losses
    loss = energy.loss_energymlkd
    assert (loss.low_energy_temperature, loss.mid_temperature,
            loss.high_energy_temperature) == (6.0, 4.0, 2.0)


def test_release_recipe():
    cfg = Config.fromfile(
        osp.join(
            CONFIGS, 'energykd/energykd-release_'
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
        osp.join(CONFIGS, 'kd-heda/kd-heda_resnet56_resnet20_'
                 '1xb64_240e_cifar100.py'))
    assert heda.custom_hooks[0].high_ratio == 0.4
    mbv2 = Config.fromfile(
        osp.join(CONFIGS, 'kd/kd_vgg13_mobilenetv2_1xb64_240e_'
                 'cifar100.py'))
    assert mbv2.optim_wrapper.optimizer.lr == 0.01
    lt = Config.fromfile(
        osp.join(CONFIGS, 'kd/kd_vgg13_vgg8_1xb64_240e_'
                 'cifar100-lt.py'))
    assert lt.train_dataloader.dataset.type == 'CIFAR100LT'
    assert lt.train_dataloader.dataset.imb_factor == 100


def _config(method, teacher, student, epochs=240, dataset='cifar100'):
    name = (f'{method}_{teacher}_{student}_1xb64_{epochs}e_'
            f'{dataset.replace("_", "-")}.py')
    folder = method.replace('-release', '')
    return Config.fromfile(osp.join(CONFIGS, folder, name))


# What a pair config may set in its own ``model`` dict: the pair, and the
# per-pair values of its recipe inside its method's loss.
PAIR_KEYS = {'student', 'teacher', 'teacher_ckpt', 'distill_losses'}


def _assigned(path, target):
    """The value node of ``target = ...`` written in ``path`` itself."""
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.Assign) and node.targets[0].id == target:
            return node.value
    return None


@pytest.mark.parametrize('path', CIFAR_CONFIGS, ids=osp.basename)
def test_pair_config_inherits_its_method_base(path):
    name = osp.basename(path)
    method = name.split('_')[0]
    folder = osp.dirname(path)
    assert osp.basename(folder) == method.replace('-release', '')
    bases = ast.literal_eval(_assigned(path, '_base_'))
    model = _assigned(path, 'model')
    own = {k.arg for k in model.keywords} if model is not None else set()
    if len(bases) == 1:  # a 360-epoch / CIFAR-100-LT variant of a config
        assert osp.isfile(osp.join(folder, bases[0]))
        assert own == set() and bases[0].startswith('./' + method + '_')
        return
    assert f'../_base_/distill/{method}.py' in bases
    assert osp.isfile(osp.join(folder, f'../_base_/distill/{method}.py'))
    assert {'student', 'teacher', 'teacher_ckpt'} <= own <= PAIR_KEYS


# mdistiller's per-pair DKD beta (configs/cifar100/dkd/*.yaml; 8 where unset)
DKD_BETA = {
    ('wrn_40_2', 'wrn_16_2'): 6.0,
    ('resnet56', 'resnet20'): 2.0,
    ('vgg13', 'vgg8'): 6.0,
    ('resnet32x4', 'shufflenetv2'): 8.0,
    ('vgg13', 'mobilenetv2'): 6.0,
    ('resnet32x4', 'resnet8x4'): 8.0,
    ('wrn_40_2', 'wrn_40_1'): 6.0,
    ('resnet110', 'resnet32'): 2.0,
    ('wrn_40_2', 'shufflenetv1'): 8.0,
    ('resnet32x4', 'shufflenetv1'): 8.0,
    ('resnet50', 'mobilenetv2'): 8.0
}


@pytest.mark.parametrize('pair', PAIRS)
def test_per_pair_recipe(pair):
    teacher, student = pair
    dkd = _config('dkd', teacher, student).model
    assert dkd.distill_losses.loss_dkd.beta == DKD_BETA[pair]
    assert dkd.loss_warmup_epochs == dict(loss_dkd=20)
    small = student in ('shufflenetv1', 'shufflenetv2', 'mobilenetv2')
    for method in ('kd', 'dkd', 'energykd', 'energydkd'):
        lr = _config(method, teacher, student).optim_wrapper.optimizer.lr
        assert lr == (0.01 if small else 0.05), method
    if pair in RELEASE_PAIRS:
        kd_360 = _config('kd', teacher, student, 360)
        assert kd_360.train_cfg.max_epochs == 360
        assert kd_360.model == _config('kd', teacher, student).model
    edkd = _config('energydkd', teacher, student).model.distill_losses
    assert edkd.loss_energydkd.beta == DKD_BETA[pair]
    assert (edkd.loss_energydkd.low_ratio,
            edkd.loss_energydkd.high_ratio) == (0.1, 0.1)
    ekd = _config('energykd', teacher, student).model.distill_losses
    # the release's energy_kd/res56_res20.yaml sets 0.3 / 0.3; others 0.2
    # (the release's, or the default for pairs it does not ship)
    ratio = 0.3 if student == 'resnet20' else 0.2
    assert (ekd.loss_energykd.low_ratio,
            ekd.loss_energykd.high_ratio) == (ratio, ratio)


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
