# Copyright (c) mmenergykd contributors. All rights reserved.
"""Bad input: a clear error before any training step, naming the setting.

Every case runs ``tools/train.py``'s ``main`` (in this process, for speed)
on a broken config or checkpoint and checks the error type and message,
that no training step ran (a probe hook marks steps) and that nothing was
saved or changed in the work dir.
"""
import math
import os
import os.path as osp
import re
import shutil

import pytest
import torch

from mmenergykd.utils.checkpoint import CorruptCheckpointError
from tests.helpers import (build_model, make_imagenet_folder,
                           save_openmmlab_checkpoint, save_tiny_teacher,
                           tiny_classifier, tiny_distiller_cfg)
from ._common import load, reliability_cfg, train_main, write_cfg
from .probe_hooks import file_hashes

MARKER = dict(type='TestStepMarkerHook')


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp('bad')
    data = make_imagenet_folder(
        str(root / 'data'), num_train=8, num_val=3, classes=5, size=20)
    teacher = save_tiny_teacher(str(root / 't.pth'))
    files = dict(data=data, teacher=teacher)
    # A finished 1-epoch run, for the resume / load cases.
    cfg = base_cfg(str(root / 'base'), data, teacher)
    files['base_cfg'] = write_cfg(cfg, str(root / 'base.py'))
    train_main([files['base_cfg'], '--work-dir', str(root / 'base')])
    files['distiller_ckpt'] = str(root / 'base' / 'epoch_1.pth')
    # teachers / checkpoints of various kinds
    files['other_teacher'] = save_tiny_teacher(
        str(root / 't_other.pth'), seed=1)
    files['t34'] = save_openmmlab_checkpoint(
        build_model(tiny_classifier(5, base=8, depth=34)),
        str(root / 't34.pth'))
    nan = build_model(tiny_classifier(5, base=8))
    nan.head.fc.bias.data.fill_(math.nan)
    files['nan_teacher'] = save_openmmlab_checkpoint(nan,
                                                     str(root / 'nan.pth'))
    with open(teacher, 'rb') as f:
        blob = f.read()
    files['torn'] = str(root / 'torn.pth')
    with open(files['torn'], 'wb') as f:
        f.write(blob[:len(blob) // 2])
    files['not_torch'] = str(root / 'teacher.safetensors')
    with open(files['not_torch'], 'wb') as f:
        f.write(b'\x08\x00\x00\x00\x00\x00\x00\x00{}      ')
    files['student_only'] = save_openmmlab_checkpoint(
        build_model(tiny_classifier(5, base=4)), str(root / 'student.pth'))
    files['teacher3'] = save_tiny_teacher(str(root / 't3.pth'), num_classes=3)
    from mmenergykd.apis import export_student
    files['exported'] = export_student(files['base_cfg'],
                                       files['distiller_ckpt'],
                                       str(root / 'exported_student.pth'))
    return root, files


def base_cfg(work_dir, data, teacher, max_epochs=1):
    return reliability_cfg(
        work_dir,
        data,
        teacher,
        extra_hooks=[MARKER],
        max_epochs=max_epochs,
        mixup=False)


def expect_error(env, name, edit, error, match, args=(), setup=None):
    """Run a broken config; check the error and that nothing happened."""
    root, files = env
    work = str(root / name)
    os.makedirs(work, exist_ok=True)
    if setup:
        setup(work)
    cfg = base_cfg(work, files['data'], files['teacher'])
    edit(cfg, files)
    path = write_cfg(cfg, str(root / f'{name}.py'))
    before = file_hashes(work)
    with pytest.raises(error, match=match) as info:
        train_main([path, '--work-dir', work] +
                   [a.format(**files, work=work) for a in args])
    assert not osp.exists(osp.join(work, 'trained_a_step')), \
        'a training step ran'
    assert file_hashes(work) == before, 'the work dir changed'
    return str(info.value)


def model_edit(**changes):

    def edit(cfg, files):
        for key, value in changes.items():
            target = cfg.model
            parts = key.split('.')
            for part in parts[:-1]:
                target = target[part]
            target[parts[-1]] = value.format(
                **files) if isinstance(value, str) and '{' in value else value

    return edit


def loss_edit(**changes):

    def edit(cfg, files):
        cfg.model.distill_losses.loss_energykd.update(changes)

    return edit


def losses_edit(**losses):

    def edit(cfg, files):
        cfg.model.distill_losses = losses  # replaces (update would merge)

    return edit


def heda_edit(**changes):

    def edit(cfg, files):
        cfg.custom_hooks[1].update(changes)

    return edit


def teacher_pretrained_edit(file_key, **pretrained):
    """No teacher_ckpt; the teacher's own init_cfg Pretrained instead."""

    def edit(cfg, files):
        cfg.model.teacher_ckpt = None
        cfg.model.teacher.init_cfg = dict(
            type='Pretrained', checkpoint=files[file_key], **pretrained)

    return edit


# --- teacher checkpoints ---
TEACHER_CASES = [
    ('missing', model_edit(teacher_ckpt='/nonexistent/teacher.pth'),
     FileNotFoundError, r'teacher_ckpt.*does not exist'),
    ('directory', model_edit(teacher_ckpt='/tmp'), FileNotFoundError,
     r'teacher_ckpt.*is a directory'),
    ('url', model_edit(teacher_ckpt='http://127.0.0.1:9/teacher.pth'),
     ConnectionError, r'local file path.*model.teacher_ckpt'),
    ('wrong_arch', model_edit(teacher_ckpt='{t34}'), ValueError,
     r'(?s)does not fit the teacher.*unexpected keys \(\d+\): '
     r'backbone.layer1.2'),
    ('class_count', model_edit(teacher_ckpt='{teacher3}'), ValueError,
     r'(?s)shape mismatches.*head.fc.weight: checkpoint \(3, 64\) vs model '
     r'\(5, 64\)'),
    ('class_count_cfg', model_edit(**{'teacher.head.num_classes': 3}),
     ValueError, r'class counts differ.*num_classes=3.*num_classes=5'),
    ('distiller_as_teacher', model_edit(teacher_ckpt='{distiller_ckpt}'),
     ValueError, r'EnergyKDDistiller training checkpoint.*export_student'),
    ('torn_teacher', model_edit(teacher_ckpt='{torn}'), CorruptCheckpointError,
     r'cut short'),
    ('nan_weights', model_edit(teacher_ckpt='{nan_teacher}'), ValueError,
     r'non-finite \(NaN / Inf\) weights in 1 tensors: head.fc.bias'),
    ('not_a_torch_file', model_edit(teacher_ckpt='{not_torch}'), ValueError,
     r'`model.teacher_ckpt` .* could not be read as a PyTorch checkpoint'),
    ('not_a_string', model_edit(teacher_ckpt=123), TypeError,
     r'`model.teacher_ckpt` must be a file path'),
    # no checkpoint at all: refused instead of distilling a random teacher
    ('no_teacher_ckpt', model_edit(teacher_ckpt=None), ValueError,
     r'`model.teacher_ckpt` is not set.*random weights.*'
     r'teacher_settings=dict\(allow_random=True\)'),
    # the mmrazor way (teacher init_cfg Pretrained) is loaded strictly too,
    # where MMEngine would only log the size mismatches
    ('teacher_pretrained_wrong_arch', teacher_pretrained_edit('t34'),
     ValueError, r'(?s)does not fit the teacher.*unexpected keys'),
    ('teacher_pretrained_prefix',
     teacher_pretrained_edit('teacher', prefix='backbone'), ValueError,
     r'a teacher must load whole.*model.teacher_ckpt'),
    ('exported_student_as_teacher', model_edit(teacher_ckpt='{exported}'),
     ValueError, r'(?s)a student exported by tools/export_student.py.*'
     r'does not fit the teacher'),
]


@pytest.mark.parametrize(
    'name,edit,error,match', TEACHER_CASES, ids=[c[0] for c in TEACHER_CASES])
def test_teacher_checkpoint_errors(env, name, edit, error, match, tmp_path,
                                   monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))  # empty download cache
    expect_error(env, name, edit, error, match)


# --- invalid settings ---
SETTING_CASES = [
    ('t_low_zero', loss_edit(low_energy_temperature=0), 'low_energy_temp'),
    ('t_mid_neg', loss_edit(mid_temperature=-1.0), 'mid_temperature'),
    # NaN / inf through the command line (a dumped config cannot hold them)
    ('t_high_nan', 'high_energy_temperature=nan', 'high_energy_temperature'),
    ('t_energy_inf', 'energy_temperature=inf', 'energy_temperature'),
    ('t_string', loss_edit(mid_temperature='4'), 'mid_temperature'),
    ('t_huge', loss_edit(high_energy_temperature=1e200),
     r'`high_energy_temperature` must be at most 10000'),
    ('kd_t_huge', losses_edit(loss_kd=dict(type='KDLoss', temperature=1e5)),
     r'`temperature` must be at most 10000'),
    ('ratio_above_1', loss_edit(low_ratio=1.5), 'low_ratio'),
    ('ratio_negative', loss_edit(high_ratio=-0.1), 'high_ratio'),
    ('ratio_sum', loss_edit(low_ratio=0.6, high_ratio=0.6),
     r'`low_ratio` \+ `high_ratio` must be <= 1'),
    ('weight_negative', loss_edit(loss_weight=-1.0), 'loss_weight'),
    ('weight_nan', 'loss_weight=nan', 'loss_weight'),
    ('student_weight', model_edit(student_loss_weight=-0.5),
     'student_loss_weight'),
    ('loss_name', losses_edit(kd=dict(type='KDLoss')), r'must contain "loss"'),
    ('kd_temperature', losses_edit(loss_kd=dict(type='KDLoss', temperature=0)),
     'temperature'),
    ('dkd_beta', losses_edit(loss_dkd=dict(type='DKDLoss', beta=-8)), 'beta'),
    ('warmup_name', model_edit(loss_warmup_epochs=dict(loss_dkd=5)),
     'loss_warmup_epochs'),
    ('heda_ratio', heda_edit(high_ratio=2.0), 'high_ratio'),
    ('heda_augment', heda_edit(augment='mosaic'), 'augment'),
    ('heda_alpha', heda_edit(alpha=0.0), 'alpha'),
    ('heda_weight', heda_edit(loss_weight=-1.0), 'loss_weight'),
    ('heda_energy_without_energy_loss',
     losses_edit(loss_kd=dict(type='KDLoss')), "kd_term='kd'"),
]


@pytest.mark.parametrize(
    'name,edit,match', SETTING_CASES, ids=[c[0] for c in SETTING_CASES])
def test_invalid_settings(env, name, edit, match):
    args = []
    if isinstance(edit, str):
        args = ['--cfg-options', f'model.distill_losses.loss_energykd.{edit}']
        edit = loss_edit()
    message = expect_error(env, name, edit, ValueError, match, args=args)
    # where the setting lives
    assert re.search(r'model\.|custom_hooks', message), message


def student_edit(**changes):
    return model_edit(**{f'student.{k}': v for k, v in changes.items()})


def iteration_based(cfg, files):
    cfg.train_cfg = dict(by_epoch=False, max_iters=2, val_interval=2)
    cfg.model.loss_warmup_epochs = dict(loss_energykd=2)


BUILD_CASES = [
    ('distill_losses_list', model_edit(distill_losses=[dict(type='KDLoss')]),
     TypeError, r'`model.distill_losses` must be a dict'),
    ('unknown_loss', losses_edit(loss_x=dict(type='NoSuchLoss')), KeyError,
     r'model.distill_losses.loss_x: .*NoSuchLoss'),
    ('not_a_distill_loss', losses_edit(loss_ce=dict(type='CrossEntropyLoss')),
     TypeError, r'loss_ce: CrossEntropyLoss is not a distillation loss'),
    ('warmup_not_dict', model_edit(loss_warmup_epochs=5), TypeError,
     r'`model.loss_warmup_epochs` must be a dict'),
    ('bool_weight', loss_edit(loss_weight=True), ValueError, 'loss_weight'),
    ('bool_temperature', loss_edit(mid_temperature=True), ValueError,
     'mid_temperature'),
    ('heda_epochs_int', heda_edit(epochs=3), ValueError,
     r'`epochs` must be a list'),
    ('heda_epochs_negative', heda_edit(epochs=[-1, 0]), ValueError,
     r'`epochs` must hold 0-based epoch numbers'),
    ('heda_epochs_outside_the_run', heda_edit(epochs=[5, 6]), ValueError,
     r'`epochs` \[5, 6\] holds no epoch of this run \(0 .. 0'),
    ('heda_twice',
     lambda c, f: c.custom_hooks.append(dict(type='HighEnergyAugmentHook')),
     ValueError, 'more than once'),
    ('heda_seed', heda_edit(seed='abc'), ValueError, r'`seed` must be an int'),
    ('teacher_config_missing',
     model_edit(teacher='mmpretrain::resnet/no_such_config.py'),
     FileNotFoundError, r'`model.teacher` refers to the config'),
    ('student_unknown_type', student_edit(**{'backbone.type': 'NoSuchNet'}),
     KeyError, r'`model.student`: .*NoSuchNet'),
    ('student_without_head', student_edit(head=None), TypeError,
     r'`model.student` must be an MMPretrain classifier .* without `head`'),
    ('iteration_based_warmup', iteration_based, ValueError,
     r'`model.loss_warmup_epochs` count epochs, but `train_cfg` is '
     'iteration-based'),
    ('energy_temperature_tiny', loss_edit(energy_temperature=1e-300),
     ValueError, r'energies at energy_temperature=1e-300 .*not finite'),
    ('student_input_channels', student_edit(**{'backbone.in_channels': 1}),
     RuntimeError, r'Training iteration 0 .*`model.student` failed on '
     r'inputs of shape \(4, 3, 16, 16\)'),
    ('loss_overflows', loss_edit(loss_weight=1e308), ValueError,
     r'Training iteration 0 .*the training loss is non-finite '
     r'\(loss=inf.*loss_energykd=inf'),
    ('student_pretrained_missing',
     student_edit(
         init_cfg=dict(type='Pretrained', checkpoint='/nonexistent/s.pth')),
     FileNotFoundError, r'`model.student.init_cfg`.*does not exist'),
    ('student_pretrained_other_width', lambda c, f: c.model.student.update(
        init_cfg=dict(type='Pretrained', checkpoint=f['teacher'])), ValueError,
     r'whose backbone does not fit `model.student`.*100 of its 100 weight '
     'tensors have another shape'),
    ('load_from_missing',
     lambda c, f: c.update(load_from='/nonexistent/x.pth'), FileNotFoundError,
     r'`load_from` .*no such checkpoint file'),
]


@pytest.mark.parametrize(
    'name,edit,error,match', BUILD_CASES, ids=[c[0] for c in BUILD_CASES])
def test_broken_configs(env, name, edit, error, match):
    expect_error(env, name, edit, error, match)


def test_student_pretrained_with_another_head_is_fine_tuning(tmp_path):
    # The usual MMPretrain fine-tuning case (same backbone, a head for
    # another class count) is allowed: the backbone loads, the head stays
    # randomly initialised (MMEngine warns about it).
    source = build_model(tiny_classifier(3, base=4))
    path = save_openmmlab_checkpoint(source, str(tmp_path / 's3.pth'))
    cfg = tiny_distiller_cfg(None)
    cfg['student']['init_cfg'] = dict(type='Pretrained', checkpoint=path)
    model = build_model(cfg)
    model.init_weights()
    for key, value in source.backbone.state_dict().items():
        assert torch.equal(model.student.backbone.state_dict()[key], value)
    assert model.student.head.fc.weight.shape == (5, 32)


def test_export_student_refuses_what_does_not_fit(env, tmp_path):
    from mmengine.config import Config

    from mmenergykd.apis import export_student
    root, files = env
    other = Config.fromfile(files['base_cfg'])
    other.model.student.backbone.depth = 34
    other_cfg = write_cfg(other, str(tmp_path / 'other.py'))
    out = str(tmp_path / 'student.pth')
    with pytest.raises(
            ValueError,
            match=r'(?s)does not match `model.student`'
            r' of CONFIG.*missing keys'):
        export_student(other_cfg, files['distiller_ckpt'], out)
    with pytest.raises(FileNotFoundError, match='CHECKPOINT'):
        export_student(files['base_cfg'], str(tmp_path / 'none.pth'), out)
    with pytest.raises(FileNotFoundError, match='CONFIG'):
        export_student(str(tmp_path / 'none.py'), files['distiller_ckpt'], out)
    with pytest.raises(IsADirectoryError, match='OUT'):
        export_student(files['base_cfg'], files['distiller_ckpt'],
                       str(tmp_path))
    assert os.listdir(tmp_path) == ['other.py']  # nothing written
    export_student(files['base_cfg'], files['distiller_ckpt'], out)
    assert osp.isfile(out)


# --- data ---
def test_training_set_too_small_for_calibration(env):

    def edit(cfg, files):
        cfg.train_dataloader.batch_size = 16

    expect_error(
        env, 'too_small', edit, ValueError,
        r'8 samples, fewer samples than `train_dataloader.batch_size'
        r'` \(16\)')


def test_labels_outside_the_class_count(env):

    def edit(cfg, files):
        cfg.model.student.head.num_classes = 3
        cfg.model.teacher.head.num_classes = 3
        cfg.model.teacher_ckpt = files['teacher3']
        cfg.data_preprocessor.num_classes = 3

    expect_error(env, 'labels', edit, ValueError,
                 r'label \[[34]\], outside the 3 classes.*num_classes')


def test_preprocessor_class_count_differs(env):

    def edit(cfg, files):
        cfg.data_preprocessor.num_classes = 1000

    message = expect_error(
        env, 'preprocessor_classes', edit, ValueError,
        r'`data_preprocessor.num_classes` is 1000.*'
        r'num_classes=5')
    assert '`data_preprocessor.num_classes=5`' in message


def test_preprocessor_class_count_taken_from_the_heads(env):
    # unset, with batch Mixup: filled in from the student's head (MMPretrain
    # would otherwise stop inside the first step)
    root, files = env
    cfg = base_cfg(
        str(root / 'mixup_no_classes'), files['data'], files['teacher'])
    cfg.data_preprocessor.num_classes = None
    cfg.data_preprocessor.batch_augments = dict(
        augments=[dict(type='Mixup', alpha=0.2)])
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    assert runner.model.data_preprocessor.num_classes == 5
    runner.train()
    assert osp.exists(osp.join(root, 'mixup_no_classes', 'epoch_1.pth'))


# --- checkpoints given where another kind is expected ---
def copy_base_run(env):
    root, files = env

    def setup(work):
        for name in ('epoch_1.pth', ):
            shutil.copy(osp.join(root, 'base', name), work)
        with open(osp.join(work, 'last_checkpoint'), 'w') as f:
            f.write(osp.join(work, 'epoch_1.pth'))

    return setup


def resume_args():
    return ['--resume', '{work}/epoch_1.pth']


def test_plain_student_checkpoint_given_to_resume(env):
    message = expect_error(
        env,
        'student_only',
        lambda c, f: None,
        ValueError,
        'plain classifier',
        args=['--resume', '{student_only}'])
    assert "model.student.init_cfg=dict(type='Pretrained'" in message


def test_plain_student_checkpoint_given_to_load_from(env):
    expect_error(env, 'student_only_load',
                 lambda c, f: c.update(load_from=f['student_only']),
                 ValueError, 'plain classifier')


def test_distiller_checkpoint_as_student_pretrained(env):

    def edit(cfg, files):
        cfg.model.student.init_cfg = dict(
            type='Pretrained', checkpoint=files['distiller_ckpt'])

    expect_error(
        env, 'distiller_as_student', edit, ValueError,
        r"none of its weights fit `model.student`.*prefix='student.'")


def test_resume_missing_or_torn_checkpoint(env):
    expect_error(
        env,
        'resume_missing',
        lambda c, f: None,
        FileNotFoundError,
        r'--resume .*no such checkpoint',
        args=['--resume', '{work}/nope.pth'])
    expect_error(
        env,
        'resume_torn',
        lambda c, f: None,
        CorruptCheckpointError,
        'cut short',
        args=['--resume', '{torn}'])


def test_resume_with_another_teacher(env):
    message = expect_error(
        env,
        'other_teacher_weights',
        model_edit(teacher_ckpt='{other_teacher}'),
        ValueError,
        r'different teacher.*model.teacher',
        args=resume_args(),
        setup=copy_base_run(env))
    assert 'weights (fingerprint' in message and 't.pth' in message

    # another architecture (with a checkpoint that fits it)
    def edit(cfg, files):
        cfg.model.teacher.backbone.depth = 34
        cfg.model.teacher_ckpt = files['t34']

    message = expect_error(
        env,
        'other_teacher_arch',
        edit,
        ValueError,
        r'different teacher.*architecture',
        args=resume_args(),
        setup=copy_base_run(env))
    # load_from (not resume) a checkpoint of another teacher: its
    # thresholds belong to that teacher, so it is refused too
    expect_error(
        env, 'other_teacher_load', lambda c, f: c.update(
            load_from=f['distiller_ckpt'],
            model=dict(c.model, teacher_ckpt=f['other_teacher'])), ValueError,
        'different teacher')


def test_resume_with_another_student(env):

    def edit(cfg, files):
        cfg.model.student.backbone.base_channels = 8
        cfg.model.student.backbone.stem_channels = 8
        cfg.model.student.head.in_channels = 64

    message = expect_error(
        env,
        'other_student',
        edit,
        ValueError, r"checkpoint's student does not match "
        r'`model.student`',
        args=resume_args(),
        setup=copy_base_run(env))
    assert 'shape mismatches' in message

    def deeper(cfg, files):
        cfg.model.student.backbone.depth = 34

    message = expect_error(
        env,
        'deeper_student',
        deeper,
        ValueError,
        'missing keys',
        args=resume_args(),
        setup=copy_base_run(env))
    assert 'backbone.layer1.2.conv1.weight' in message


ENERGY_SETTING_CASES = [
    ('energy_ratio_changed', loss_edit(high_ratio=0.3),
     r'`model.distill_losses.loss_energykd`: high_ratio 0.2 -> 0.3'),
    ('energy_temperature_changed', loss_edit(energy_temperature=2.0),
     r'loss_energykd`: energy_temperature 4 -> 2'),
    ('heda_ratio_changed', heda_edit(high_ratio=0.25),
     r'HighEnergyAugmentHook entry of `custom_hooks`: high_ratio 0.5 -> '
     r'0.25'),
]


@pytest.mark.parametrize(
    'name,edit,match',
    ENERGY_SETTING_CASES,
    ids=[c[0] for c in ENERGY_SETTING_CASES])
def test_resume_with_other_energy_settings(env, name, edit, match):
    # The checkpoint's thresholds were computed for the old ratios /
    # energy temperature: reusing them would silently split the data into
    # other shares than the config says.
    message = expect_error(
        env,
        name,
        edit,
        ValueError,
        'calibrated for other energy settings.*' + match,
        args=resume_args(),
        setup=copy_base_run(env))
    assert 'recalibrate_on_change=True' in message
    # load_from (fine-tuning from the checkpoint) is checked the same way
    expect_error(
        env, name + '_load', lambda c, f:
        (edit(c, f), c.update(load_from=f['distiller_ckpt'])), ValueError,
        'calibrated for other energy settings')


def test_resume_with_other_energy_settings_recalibrates_on_request(env):
    root, files = env
    work = str(root / 'recalibrate')
    os.makedirs(work)
    copy_base_run(env)(work)
    cfg = base_cfg(work, files['data'], files['teacher'], max_epochs=2)
    cfg.model.distill_losses.loss_energykd.high_ratio = 0.5
    cfg.custom_hooks[0].recalibrate_on_change = True
    path = write_cfg(cfg, str(root / 'recalibrate.py'))
    train_main([path, '--work-dir', work, '--resume'])
    old = load(osp.join(work, 'epoch_1.pth'))
    new = load(osp.join(work, 'epoch_2.pth'))
    key = 'distill_losses.loss_energykd.'
    assert new['state_dict'][key + 'calibration_settings'].tolist() == \
        pytest.approx([0.2, 0.5, 4.0])
    assert old['state_dict'][key + 'calibration_settings'].tolist() == \
        pytest.approx([0.2, 0.2, 4.0])
    # the same 8 training energies, a lower high-energy threshold
    assert new['state_dict'][key + 'high_threshold'] < \
        old['state_dict'][key + 'high_threshold']
    assert new['energy_calibration']['num_samples'] == 8


def test_resume_with_same_config_works(env):
    # the control: the same config resumes (and trains on) without error
    root, files = env
    work = str(root / 'same')
    copy_base_run(env)(work) if osp.isdir(work) else (os.makedirs(work),
                                                      copy_base_run(env)(work))
    cfg = base_cfg(work, files['data'], files['teacher'], max_epochs=2)
    path = write_cfg(cfg, str(root / 'same.py'))
    train_main([path, '--work-dir', work, '--resume'])
    assert load(osp.join(work, 'epoch_2.pth'))['meta']['epoch'] == 2


# --- non-finite teacher logits ---
def test_non_finite_teacher_logits_in_calibration(env):

    def zero_std(cfg, files):  # (x - mean) / 0: non-finite inputs
        cfg.data_preprocessor.std = [0.0] * 3

    message = expect_error(
        env,
        'nan_calibration',
        zero_std,
        ValueError, r'Energy calibration, training batch '
        r'0 \(dataset indices \[\d+, \d+, \d+, \d+\]\).*'
        'non-finite',
        setup=copy_base_run(env))
    assert 'nothing was saved' in message


def test_non_finite_teacher_logits_in_training(env):
    root, files = env
    work = str(root / 'nan_training')
    cfg = base_cfg(work, files['data'], files['teacher'], max_epochs=2)
    cfg.custom_hooks.append(dict(type='TestCorruptTeacherHook', at_iter=3))
    path = write_cfg(cfg, str(root / 'nan_training.py'))
    with pytest.raises(
            ValueError,
            match=r'Training iteration 3 \(0-based, '
            r'epoch 1\), dataset indices \[\d+, \d+, \d+, \d+\]: '
            'The teacher produced non-finite logits'):
        train_main([path, '--work-dir', work])
    # epoch 1 (iterations 0-1) was saved before; nothing was touched since
    with open(osp.join(work, 'before_corruption.json')) as f:
        import json
        before = json.load(f)
    assert 'epoch_1.pth' in before and 'last_checkpoint' in before
    assert file_hashes(work) == before
