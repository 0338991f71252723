# Copyright (c) mmenergykd contributors. All rights reserved.
"""Empty data refused before the first training step, naming the setting.

An empty validation set used to be found after a whole training epoch and
a checkpoint, as a bare ``ZeroDivisionError`` in MMEngine's sampler. Each
case here is refused before any step ran and before anything was saved,
under our ``tools/train.py``, MMPretrain's own, and with MMEngine's plain
``Runner`` (the configs' ``ResumableEpochBasedTrainLoop`` checks then).
"""
import os
import os.path as osp

import pytest
from mmengine.registry import RUNNERS

from mmenergykd.engine import EmptyDataError
from tests.helpers import make_imagenet_folder, save_tiny_teacher
from ._common import (MMPRETRAIN_TRAIN_PY, reliability_cfg, run_train,
                      train_main, write_cfg)
from .probe_hooks import file_hashes

MARKER = dict(type='TestStepMarkerHook')
GUARDED = 'mmpretrain.GuardedRunner'


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp('empty')
    data = make_imagenet_folder(
        str(root / 'data'), num_train=8, num_val=3, classes=5, size=20)
    teacher = save_tiny_teacher(str(root / 't.pth'))
    empty = root / 'empty.txt'
    empty.write_text('')
    return root, data, teacher, str(empty)


def make_cfg(env, name, runner_type=GUARDED, edit=None):
    root, data, teacher, empty = env
    work = str(root / name)
    cfg = reliability_cfg(
        work, data, teacher, extra_hooks=[MARKER], max_epochs=1, mixup=False)
    if runner_type:
        cfg.runner_type = runner_type
    if edit:
        edit(cfg, empty)
    return cfg, write_cfg(cfg, str(root / f'{name}.py')), work


def empty_split(loader, serialize=True):

    def edit(cfg, empty):
        cfg[loader].dataset.ann_file = empty
        if not serialize:  # MMEngine then keeps an empty list, no error
            cfg[loader].dataset.serialize_data = False

    return edit


def refused(work, error, match, run):
    os.makedirs(work, exist_ok=True)
    with pytest.raises(error, match=match) as info:
        run()
    assert not osp.exists(osp.join(work, 'trained_a_step')), \
        'a training step ran'
    assert file_hashes(work) == {}, 'a checkpoint was written'
    return str(info.value)


CASES = [
    ('val', empty_split('val_dataloader'),
     r'^`val_dataloader.dataset` \(ImageNet: data_root=.*ann_file=.*empty.txt'
     r".*\) has no samples: there is nothing to validate on\. .*--no-valid"),
    ('val_unserialized', empty_split('val_dataloader', serialize=False),
     r'`val_dataloader.dataset` \(ImageNet.*\) has no samples'),
    ('train', empty_split('train_dataloader'),
     r'`train_dataloader.dataset` \(ImageNet.*\) has no samples: there is '
     r'nothing to train on'),
    ('no_batch',
     lambda cfg, _: cfg.train_dataloader.update(batch_size=16, drop_last=True),
     r'`train_dataloader` gives no batch: each process gets 8 of its 8 '
     r'samples, fewer than `train_dataloader.batch_size` \(16\).*'
     r'`train_dataloader.drop_last=False`'),
]


@pytest.mark.parametrize('name,edit,match', CASES, ids=[c[0] for c in CASES])
def test_empty_data_refused_before_training(env, name, edit, match):
    _, path, work = make_cfg(env, name, edit=edit)
    refused(work, EmptyDataError, match,
            lambda: train_main([path, '--work-dir', work]))


def test_plain_runner_refused_by_the_loop(env):
    # A config that names MMEngine's Runner keeps the loop's check (for
    # datasets that build when empty: MMEngine's serialization fails first,
    # with its own error, when the dataset is built).
    _, path, work = make_cfg(
        env,
        'plain_runner',
        runner_type=None,
        edit=empty_split('val_dataloader', serialize=False))
    refused(work, EmptyDataError, r'`val_dataloader.dataset` .*no samples',
            lambda: train_main([path, '--work-dir', work]))


def test_empty_test_set_refused(env):
    cfg, _, work = make_cfg(
        env, 'test_set', edit=empty_split('test_dataloader'))
    runner = RUNNERS.build(cfg)
    refused(
        work, EmptyDataError,
        r'`test_dataloader.dataset` .* has no samples: there is nothing '
        'to test on', runner.test)


def test_empty_val_set_under_mmpretrains_own_train_py(env):
    _, path, work = make_cfg(
        env, 'mmpretrain_tool', edit=empty_split('val_dataloader'))
    result = run_train([path, '--work-dir', work], script=MMPRETRAIN_TRAIN_PY)
    assert result.returncode != 0
    assert 'EmptyDataError: `val_dataloader.dataset`' in result.stderr, \
        result.stderr[-3000:]
    assert 'ZeroDivisionError' not in result.stderr
    assert not osp.exists(osp.join(work, 'trained_a_step'))
    assert file_hashes(work) == {}
