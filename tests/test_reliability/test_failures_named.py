# Copyright (c) mmenergykd contributors. All rights reserved.
"""Every failure names its file: a bad image, a full disk, a stopped run,
a moved work dir.

- an image that cannot be decoded names its path and dataset index (MMCV
  said ``cv2.error ... !buf.empty()``), before any step;
- a full disk while saving names the checkpoint being written and the last
  complete one (MMEngine said ``OSError: [Errno 28]``), leaving no partial
  file;
- SIGTERM and SIGINT write one line to the run's log (where it stopped and
  the command that resumes it), and that command resumes the run;
- ``last_checkpoint`` naming the old place of a moved work dir resumes from
  the checkpoint in the new place, without calling it "not complete".
"""
import errno
import glob
import os
import os.path as osp
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.fileio import LocalBackend
from mmengine.registry import DATASETS, RUNNERS

from mmenergykd.datasets import SampleLoadError
from mmenergykd.engine import find_resumable_checkpoint
from mmenergykd.engine import runtime as runtime_module
from mmenergykd.engine.hooks.atomic_checkpoint_hook import CheckpointWriteError
from tests.helpers import REPO, make_imagenet_folder, save_tiny_teacher
from ._common import (TRAIN_PY, reliability_cfg, subprocess_env, train_main,
                      write_cfg)
from .probe_hooks import file_hashes

GUARDED = 'mmpretrain.GuardedRunner'


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp('named')
    teacher = save_tiny_teacher(str(root / 't.pth'))
    return root, teacher


def new_data(root, name):
    return make_imagenet_folder(
        str(root / name), num_train=8, num_val=3, classes=5, size=20)


def make_cfg(root,
             teacher,
             data,
             name,
             max_epochs=1,
             runner_type=GUARDED,
             extra_hooks=()):
    work = str(root / name)
    cfg = reliability_cfg(
        work,
        data,
        teacher,
        extra_hooks=[dict(type='TestStepMarkerHook')] + list(extra_hooks),
        max_epochs=max_epochs,
        mixup=False)
    if runner_type:
        cfg.runner_type = runner_type
    return cfg, write_cfg(cfg, str(root / f'{name}.py')), work


@pytest.mark.parametrize(
    'runner_type', [GUARDED, None], ids=['guarded_runner', 'plain_runner'])
@pytest.mark.parametrize('content,problem', [
    (b'', r'is empty \(0 bytes\)'),
    (b'not an image', r'is not a readable image \(12 bytes'),
])
def test_undecodable_image_names_path_and_index(env, runner_type, content,
                                                problem):
    root, teacher = env
    name = f'bad_image_{len(content)}_{runner_type is None}'
    data = new_data(root, f'data_{name}')
    bad = sorted(glob.glob(osp.join(data, 'train', '*', '*')))[3]
    with open(bad, 'wb') as f:
        f.write(content)
    cfg, path, work = make_cfg(
        root, teacher, data, name, runner_type=runner_type)
    with pytest.raises(SampleLoadError) as info:
        train_main([path, '--work-dir', work])
    message = str(info.value)
    pattern = (r'^Sample (\d+) of `train_dataloader.dataset` could not be '
               rf'loaded: {bad} {problem}.*Replace the file, or remove it')
    found = re.match(pattern, message)
    assert found, message
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert dataset.get_data_info(int(found.group(1)))['img_path'] == bad
    assert not osp.exists(osp.join(work, 'trained_a_step'))
    assert file_hashes(work) == {}


def test_full_disk_names_the_checkpoint_and_the_last_complete_one(
        env, monkeypatch):
    root, teacher = env
    data = new_data(root, 'data_disk')
    _, path, work = make_cfg(root, teacher, data, 'full_disk', max_epochs=2)
    put = LocalBackend.put

    def disk_full_at_epoch_2(backend, obj, filepath):
        if 'epoch_2' not in str(filepath):
            return put(backend, obj, filepath)
        with open(filepath, 'wb') as f:  # what fitted on the disk
            f.write(obj[:len(obj) // 3])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(LocalBackend, 'put', disk_full_at_epoch_2)
    with pytest.raises(CheckpointWriteError) as info:
        train_main([path, '--work-dir', work])
    first = osp.join(work, 'epoch_1.pth')
    assert info.value.errno == errno.ENOSPC
    assert str(info.value) == (
        f'[Errno 28] Could not write the checkpoint '
        f'{osp.join(work, "epoch_2.pth")}: No space left on device on the '
        f'disk holding {work}: free space (or keep fewer checkpoints: '
        '`default_hooks.checkpoint.max_keep_ckpts`, or save elsewhere: '
        '`default_hooks.checkpoint.out_dir`). The last complete checkpoint '
        f'is {first}; `--resume` continues from it.')
    assert sorted(file_hashes(work)) == ['epoch_1.pth', 'last_checkpoint']
    assert not [n for n in os.listdir(work) if n.endswith('.tmp')]
    torch.load(first, weights_only=False)  # whole
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().strip() == first


def _log_of(work):
    logs = glob.glob(osp.join(work, '*', '*.log'))
    assert len(logs) == 1, logs
    with open(logs[0]) as f:
        return f.read()


def _start_paused(path, work, ready):
    proc = subprocess.Popen(
        [sys.executable, TRAIN_PY, path, '--work-dir', work],
        cwd=REPO,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True)
    deadline = time.time() + 300
    while not osp.exists(ready):
        if proc.poll() is not None:
            raise AssertionError(proc.communicate()[1][-3000:])
        assert time.time() < deadline
        time.sleep(0.1)
    return proc


def test_sigterm_logs_where_and_how_to_resume(env, tmp_path):
    root, teacher = env
    data = new_data(root, 'data_term')
    ready = str(tmp_path / 'ready')
    pause = dict(
        type='TestWaitForFileHook',
        ready=ready,
        release=str(tmp_path / 'never'),
        at_iter=4)
    _, path, work = make_cfg(
        root, teacher, data, 'sigterm', max_epochs=2, extra_hooks=[pause])
    proc = _start_paused(path, work, ready)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM
    lines = [x for x in _log_of(work).splitlines() if 'Stopped by' in x]
    assert len(lines) == 1, lines
    command = shlex.join(
        ['python', TRAIN_PY, path, '--work-dir', work, '--resume'])
    assert lines[0].endswith(
        'Stopped by SIGTERM in epoch 2 of 2 after 1 of its 2 iterations '
        '(iteration 3); the last complete checkpoint is '
        f'{osp.join(work, "epoch_1.pth")}. Resume with: {command}'), lines
    # the logged command resumes the run (the pause hook waits on a file
    # that never comes: it pauses until its timeout, so drop it)
    cfg, _, _ = make_cfg(root, teacher, data, 'sigterm', max_epochs=2)
    write_cfg(cfg, path)
    words = shlex.split(command)
    resumed = subprocess.run(
        [sys.executable] + words[1:],
        cwd=REPO,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))


def test_sigint_during_calibration_logs_a_line(env, tmp_path):
    root, teacher = env
    data = new_data(root, 'data_int')
    ready = str(tmp_path / 'ready')
    pause = dict(
        type='TestWaitForFileHook',
        ready=ready,
        release=str(tmp_path / 'never'),
        at='before_train')
    _, path, work = make_cfg(
        root, teacher, data, 'sigint', extra_hooks=[pause])
    proc = _start_paused(path, work, ready)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and 'KeyboardInterrupt' in err
    lines = [x for x in _log_of(work).splitlines() if 'Stopped by' in x]
    assert len(lines) == 1 and lines[0].endswith(
        'Stopped by SIGINT before the first training step; no checkpoint '
        f'was written yet. Resume with: python {TRAIN_PY} {path} '
        f'--work-dir {work} --resume'), lines


def test_moved_work_dir_resumes_from_its_own_checkpoint(tmp_path, monkeypatch):
    said = []
    monkeypatch.setattr(runtime_module, 'print_log',
                        lambda msg, **kw: said.append(msg))
    old, new = tmp_path / 'old', tmp_path / 'new'
    old.mkdir()
    torch.save({'state_dict': {'w': torch.ones(2)}}, str(old / 'epoch_3.pth'))
    (old / 'last_checkpoint').write_text(str(old / 'epoch_3.pth'))
    shutil.copytree(old, new)
    # copied: the copy's own checkpoint, not the original's
    assert find_resumable_checkpoint(str(new)) == str(new / 'epoch_3.pth')
    shutil.rmtree(old)
    # moved: the old path is gone
    assert find_resumable_checkpoint(str(new)) == str(new / 'epoch_3.pth')
    assert len(said) == 2
    assert all('outside this work dir (it was moved or copied since)' in m
               and 'not a complete checkpoint' not in m for m in said)
    # a name that is nowhere is said to be missing, not incomplete
    (new / 'last_checkpoint').write_text(str(old / 'epoch_9.pth'))
    assert find_resumable_checkpoint(str(new)) == str(new / 'epoch_3.pth')
    assert 'which does not exist' in said[-1]
    assert 'not a complete checkpoint' not in said[-1]


def test_moved_work_dir_resumes_under_mmengines_auto_resume(env):
    # MMPretrain's tools/train.py --resume: resume=True, load_from=None;
    # GuardedRunner resolves the checkpoint (MMEngine would open the old
    # path named by last_checkpoint and fail).
    root, teacher = env
    data = new_data(root, 'data_moved')
    cfg, path, work = make_cfg(root, teacher, data, 'moved_a')
    train_main([path, '--work-dir', work])
    moved = str(root / 'moved_b')
    shutil.move(work, moved)
    cfg, _, _ = make_cfg(root, teacher, data, 'moved_b', max_epochs=2)
    cfg.resume, cfg.load_from = True, None
    runner = RUNNERS.build(cfg)
    runner.train()
    assert runner.iter == 4 and runner.epoch == 2  # one more epoch only
    assert osp.isfile(osp.join(moved, 'epoch_2.pth'))
