# Copyright (c) mmenergykd contributors. All rights reserved.
"""Exact resume: interrupted + resumed runs end as the uninterrupted one.

Every run goes through ``tools/train.py`` (subprocesses; the killed ones
are really SIGKILLed). The runs have every source of randomness: random
crops and flips in two dataloader workers, shuffling, batch Mixup, HE-DA's
CutMix, plus the energy calibration pass and validation between epochs.
2 epochs x 4 iterations.
"""
import os
import os.path as osp
import shutil
import signal

import pytest
import torch

from mmenergykd.engine import find_resumable_checkpoint
from tests.helpers import make_imagenet_folder, save_tiny_teacher
from ._common import (MMPRETRAIN_TRAIN_PY, load, reliability_cfg, run_train,
                      scalar_history, train_main, write_cfg)

LOGGED = ('train/loss', 'train/loss_cls', 'train/loss_energykd',
          'train/loss_heda', 'train/heda_num', 'train/energy_low',
          'train/energy_high', 'train/lr', 'val/accuracy/top1',
          'train/heda_epoch_share')
EVERY_ITER = dict(type='AtomicCheckpointHook', interval=1, by_epoch=False)


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp('resume')
    data = make_imagenet_folder(
        str(root / 'data'), num_train=16, num_val=5, classes=5, size=20)
    teacher = save_tiny_teacher(str(root / 't.pth'))
    return root, data, teacher


def make_cfg(env, name, checkpoint_hook, extra_hooks=(), num_workers=2):
    root, data, teacher = env
    cfg = reliability_cfg(
        str(root / name),
        data,
        teacher,
        extra_hooks=list(extra_hooks),
        num_workers=num_workers)
    cfg.default_hooks.checkpoint = dict(checkpoint_hook)
    return write_cfg(cfg, str(root / f'{name}.py'))


def train_ok(args, script=None):
    result = run_train(args, script=script) if script else run_train(args)
    assert result.returncode == 0, result.stdout[-3000:] + \
        result.stderr[-5000:]
    return result


@pytest.fixture(scope='module')
def uninterrupted(env):
    root = env[0]
    train_ok(
        [make_cfg(env, 'full', EVERY_ITER), '--work-dir',
         str(root / 'full')])
    return load(str(root / 'full' / 'iter_8.pth'))


def assert_same_run(got: dict, expected: dict) -> None:
    """Student weights, thresholds, HE-DA state, optimizer, logged values."""
    sd, ref = got['state_dict'], expected['state_dict']
    assert list(sd) == list(ref)
    for key in ref:
        # bitwise: CPU, fixed seed
        assert torch.equal(sd[key], ref[key]), key
    assert 'distill_losses.loss_energykd.low_threshold' in ref
    assert 'high_energy_augment.high_threshold' in ref
    assert got['energy_calibration']['thresholds'] == \
        expected['energy_calibration']['thresholds']
    assert got['high_energy_augment'] == expected['high_energy_augment']
    for group, ref_group in zip(got['optimizer']['state'].values(),
                                expected['optimizer']['state'].values()):
        for name, value in ref_group.items():
            assert torch.equal(group[name], value), name
    for key in LOGGED:
        assert scalar_history(got, key) == scalar_history(expected, key), key
    assert got['meta']['epoch'] == expected['meta']['epoch']
    assert got['meta']['iter'] == expected['meta']['iter'] == 8


def test_kill_during_save_mid_epoch_then_resume(env, uninterrupted):
    """SIGKILL half-way through writing iter_7.pth (epoch 2, batch 3).

    The cut-short file is never the latest checkpoint; --resume continues
    from iter_6.pth, skipping the 2 batches of epoch 2 already trained.
    max_keep_ckpts=1: MMEngine deletes iter_6.pth *before* writing iter_7,
    which would leave last_checkpoint naming a deleted file.
    """
    root = env[0]
    work = str(root / 'killed_saving')
    keep_one = dict(EVERY_ITER, max_keep_ckpts=1)
    killed = run_train([
        make_cfg(env, 'kill_save', keep_one,
                 [dict(type='TestSigkillHook', at_iter=7, mode='during_save')
                  ]), '--work-dir', work
    ])
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    files = os.listdir(work)
    assert 'iter_7.pth' not in files
    assert any(f.startswith('.iter_7.pth') for f in files)  # the torn file
    assert 'iter_6.pth' in files and 'iter_5.pth' not in files
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().strip() == osp.join(work, 'iter_6.pth')

    resumed = train_ok([
        make_cfg(env, 'resume_save', keep_one), '--work-dir', work, '--resume'
    ])
    assert 'skipping the 2 batches already trained on' in \
        resumed.stdout + resumed.stderr
    assert not any(f.endswith('.tmp') for f in os.listdir(work))
    assert_same_run(load(osp.join(work, 'iter_8.pth')), uninterrupted)


def test_kill_mid_epoch_resumes_from_last_complete_checkpoint(
        env, uninterrupted):
    """SIGKILL after iteration 6; checkpoints every 4 iterations.

    The last complete checkpoint is iter_4.pth, written after the last
    batch of epoch 1 but before its end-of-epoch hooks and validation: the
    resumed run runs those, then epoch 2.
    """
    root = env[0]
    work = str(root / 'killed')
    every4 = dict(EVERY_ITER, interval=4)
    killed = run_train([
        make_cfg(env, 'kill_iter', every4,
                 [dict(type='TestSigkillHook', at_iter=6)]), '--work-dir', work
    ])
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert sorted(f for f in os.listdir(work) if f.endswith('.pth')) == \
        ['iter_4.pth']
    train_ok(
        [make_cfg(env, 'resume_iter', every4), '--work-dir', work, '--resume'])
    assert_same_run(load(osp.join(work, 'iter_8.pth')), uninterrupted)


def test_kill_and_resume_under_mmpretrains_own_launcher(env, uninterrupted):
    """MMPretrain's tools/train.py, nothing of ours injected: the configs
    declare the resumable loop and the crash-safe checkpoint hook, so a run
    killed after iteration 6 and resumed with MMPretrain's ``--resume`` ends
    bit-identical to the uninterrupted run."""
    assert osp.isfile(MMPRETRAIN_TRAIN_PY)
    root = env[0]
    work = str(root / 'killed_mmpretrain')
    every4 = dict(EVERY_ITER, interval=4)
    killed = run_train([
        make_cfg(env, 'kill_mmpretrain', every4,
                 [dict(type='TestSigkillHook', at_iter=6)]), '--work-dir', work
    ],
                       script=MMPRETRAIN_TRAIN_PY)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    train_ok([
        make_cfg(env, 'resume_mmpretrain', every4), '--work-dir', work,
        '--resume'
    ],
             script=MMPRETRAIN_TRAIN_PY)
    assert_same_run(load(osp.join(work, 'iter_8.pth')), uninterrupted)


@pytest.fixture
def one_thread():
    # In-process runs share the machine with the subprocesses of other
    # tests; one thread avoids oversubscribing 2 cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_resume_in_process_without_workers(env, tmp_path, one_thread):
    """num_workers=0 (batches skipped without loading), explicit path."""
    full = str(tmp_path / 'full')
    cfg = make_cfg(env, 'noworkers', EVERY_ITER, num_workers=0)
    train_main([cfg, '--work-dir', full])
    part = str(tmp_path / 'part')
    os.makedirs(part)
    shutil.copy(osp.join(full, 'iter_5.pth'), part)
    train_main(
        [cfg, '--work-dir', part, '--resume',
         osp.join(part, 'iter_5.pth')])
    assert_same_run(
        load(osp.join(part, 'iter_8.pth')), load(osp.join(full, 'iter_8.pth')))


def test_auto_resume_skips_torn_or_missing_checkpoints(tmp_path):
    good = str(tmp_path / 'iter_2.pth')
    torch.save({'state_dict': {'w': torch.ones(3)}}, good)
    with open(good, 'rb') as f:
        data = f.read()
    torn = str(tmp_path / 'iter_3.pth')
    with open(torn, 'wb') as f:
        f.write(data[:len(data) // 2])
    last = tmp_path / 'last_checkpoint'
    for content in (torn, '', str(tmp_path / 'iter_9.pth'), torn[:-3]):
        last.write_text(content)
        assert find_resumable_checkpoint(str(tmp_path)) == good
    last.write_text(good)
    assert find_resumable_checkpoint(str(tmp_path)) == good
    os.remove(good)
    assert find_resumable_checkpoint(str(tmp_path)) is None
