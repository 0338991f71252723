"""Training from a teacher bank: the same run as with the live teacher."""
import copy
import glob

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmenergykd.apis import build_teacher_bank
from mmenergykd.engine.hooks import TeacherBankHook
from mmenergykd.models.teacher_bank import BankDamagedError
from tests.helpers import (make_cifar100_folder, save_openmmlab_checkpoint,
                           unique_experiment_name)
from tests.test_apis.bank_setup import PIPELINE, TEACHER, damaged_copy

NET = TEACHER  # the student and the teacher


def _config(root, data, ckpt, bank=None):
    cfg = dict(
        default_scope='mmpretrain',
        custom_imports=dict(imports=['mmenergykd']),
        model=dict(
            type='EnergyKDDistiller',
            student=NET,
            teacher=NET,
            teacher_ckpt=ckpt,
            teacher_bank=bank,
            distill_losses=dict(
                loss_energykd=dict(type='EnergyKDLoss', loss_weight=0.9))),
        data_preprocessor=dict(
            type='mmpretrain.ClsDataPreprocessor',
            num_classes=100,
            mean=[129.3, 124.1, 112.4],
            std=[68.2, 65.4, 70.4]),
        train_dataloader=dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(
                type='CIFAR100LT',
                check_md5=False,
                imb_factor=1,
                data_root=data,
                split='train',
                indices=12,
                pipeline=PIPELINE)),
        train_cfg=dict(type='ResumableEpochBasedTrainLoop', max_epochs=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        custom_hooks=[dict(type='EnergyCalibrationHook')] +
        ([dict(type='TeacherBankHook')] if bank else []),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=100)),
        randomness=dict(seed=0),
        work_dir=str(root),
        experiment_name=unique_experiment_name(str(root)))
    path = str(root) + '.py'
    Config(cfg).dump(path)
    return path


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('bankrun')
    data = make_cifar100_folder(str(root / 'cifar'), train_per_class=1)
    torch.manual_seed(0)
    from tests.helpers import build_model
    teacher = build_model(copy.deepcopy(NET))
    teacher.init_weights()
    ckpt = save_openmmlab_checkpoint(teacher, str(root / 'teacher.pth'))
    config = _config(root / 'cfg', data, ckpt)
    bank = str(root / 'bank')
    build_teacher_bank(config, bank, dtype='fp32', device='cpu')
    return dict(root=root, data=data, ckpt=ckpt, bank=bank)


def _losses(config):
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runner = Runner.from_cfg(Config.fromfile(config))
        runner.train()
    finally:
        torch.set_num_threads(old)
    hub = runner.message_hub
    return runner, {
        key: hub.get_scalar(f'train/{key}').data[0].tolist()
        for key in ('loss', 'loss_energykd', 'energy_low')
    }


def test_bank_run_equals_live_run(setup):
    root = setup['root']
    _, live = _losses(_config(root / 'live', setup['data'], setup['ckpt']))
    runner, banked = _losses(
        _config(root / 'banked', setup['data'], setup['ckpt'], setup['bank']))
    assert runner.model.teacher_source.bank is not None
    assert len(banked['loss']) == 6  # 2 epochs x 3 iterations
    for key in live:
        assert banked[key] == pytest.approx(live[key], abs=1e-5), key


def test_bank_of_another_teacher_refused_before_training(setup, tmp_path):
    torch.manual_seed(1)
    from tests.helpers import build_model
    other = build_model(copy.deepcopy(NET))
    other.init_weights()
    ckpt = save_openmmlab_checkpoint(other, str(tmp_path / 'other.pth'))
    config = _config(tmp_path / 'run', setup['data'], ckpt, setup['bank'])
    runner = Runner.from_cfg(Config.fromfile(config))
    with pytest.raises(ValueError, match='build_teacher_bank.py'):
        runner.train()
    assert runner.iter == 0


def test_bank_without_hook_is_a_clear_error(setup, tmp_path):
    config = _config(tmp_path / 'run', setup['data'], setup['ckpt'],
                     setup['bank'])
    cfg = Config.fromfile(config)
    cfg.custom_hooks = [dict(type='EnergyCalibrationHook')]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='TeacherBankHook'):
        runner.train()


def test_damaged_bank_refused_before_the_first_step(setup, tmp_path):
    """Bytes flipped in the bank (its size kept): refused by the checksums
    before calibration, the first step or any checkpoint."""
    bad = damaged_copy(
        setup['bank'], str(tmp_path / 'bad_bank'), 5000, size=1, mask=1)
    work = tmp_path / 'run'
    runner = Runner.from_cfg(
        Config.fromfile(_config(work, setup['data'], setup['ckpt'], bad)))
    with pytest.raises(BankDamagedError) as info:
        runner.train()
    assert 'chunk 0: samples 0..11 (logits.bin)' in str(info.value)
    assert '--resume' in str(info.value)
    assert runner.iter == 0
    assert not glob.glob(str(work / '*.pth'))
    consumers = runner.model.energy_consumers().values()
    assert consumers and not any(c.is_calibrated for c in consumers)


def test_hook_declared_twice_opens_the_bank_once(setup, tmp_path):
    """A config listing TeacherBankHook in custom_hooks beside the runtime's
    default hook: the first one opens the bank, the second does nothing."""
    cfg = Config.fromfile(
        _config(tmp_path / 'run', setup['data'], setup['ckpt'], setup['bank']))
    cfg.default_hooks.teacher_bank = dict(type='TeacherBankHook')
    runner = Runner.from_cfg(cfg)
    hooks = [h for h in runner.hooks if isinstance(h, TeacherBankHook)]
    assert len(hooks) == 2
    runner.call_hook('before_run')
    assert [h.bank is not None for h in hooks] == [True, False]
    assert runner.model.teacher_source.bank is hooks[0].bank
