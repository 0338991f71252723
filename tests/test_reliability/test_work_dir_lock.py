# Copyright (c) mmenergykd contributors. All rights reserved.
"""One run per work dir: the lock, its stale rules, two real runs.

A second run started in a work dir where a run is alive is refused before
it writes anything (under our tools/train.py, MMPretrain's and ``mim
train``), naming the first run's process id and host; the first run
finishes unharmed. A lock left by a dead process (on this machine) or with
an old heartbeat (another machine) never blocks.
"""
import json
import os
import os.path as osp
import socket
import subprocess
import sys
import time

import pytest
from mmengine.config import Config

from mmenergykd.engine import GuardedRunner, WorkDirBusyError, process_info
from mmenergykd.engine import work_dir_lock as wdl
from tests.helpers import REPO, make_imagenet_folder, save_tiny_teacher
from ._common import (MMPRETRAIN_TRAIN_PY, TRAIN_PY, reliability_cfg,
                      run_train, subprocess_env, write_cfg)


def write_lock(work_dir, **fields):
    """A lock file as another run would have left it."""
    owner = process_info.process_record('someone-else')
    owner.update(fields)
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, wdl.LOCK_NAME), 'w') as f:
        json.dump(owner, f)
    return owner


def held_token(work_dir):
    with open(osp.join(work_dir, wdl.LOCK_NAME)) as f:
        return json.load(f)['token']


def ended_pid():
    """The id of a process that has ended (and was reaped)."""
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    return proc.pid


def test_lock_of_a_dead_process_on_this_machine_is_ignored(tmp_path):
    work = str(tmp_path)
    write_lock(work, pid=ended_pid())
    lock = wdl.acquire_work_dir_lock(work)
    try:
        assert held_token(work) == lock.token
    finally:
        wdl.release_work_dir_lock(work)
    assert not osp.exists(osp.join(work, wdl.LOCK_NAME))


def test_lock_of_an_ended_unreaped_process_is_ignored(tmp_path):
    # A killed run whose parent has not waited for it yet is a zombie:
    # os.kill(pid, 0) still succeeds, yet it runs no more.
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    deadline = time.time() + 30
    while process_info.pid_alive(proc.pid) and time.time() < deadline:
        time.sleep(0.05)
    assert not process_info.pid_alive(proc.pid)
    assert proc.poll() is not None  # reaped only now
    work = str(tmp_path)
    write_lock(work, pid=proc.pid)
    assert wdl.stale_reason(wdl.WorkDirLock(work)._read()) is not None


def test_reused_process_id_is_not_the_holder(tmp_path):
    # A live process whose start time differs from the recorded one.
    parent = os.getppid()
    ticks = process_info.start_ticks(parent)
    if ticks is None:
        pytest.skip('no /proc start times here')
    work = str(tmp_path)
    write_lock(work, pid=parent, start_ticks=ticks + 1)
    reason = wdl.stale_reason(wdl.WorkDirLock(work)._read())
    assert reason is not None and 'another process' in reason
    wdl.acquire_work_dir_lock(work)
    wdl.release_work_dir_lock(work)


def test_live_process_on_this_machine_blocks(tmp_path):
    sleeper = subprocess.Popen(
        [sys.executable, '-c', 'import time; '
         'time.sleep(60)'])
    try:
        work = str(tmp_path)
        owner = write_lock(
            work,
            pid=sleeper.pid,
            start_ticks=process_info.start_ticks(sleeper.pid))
        with pytest.raises(WorkDirBusyError) as info:
            wdl.acquire_work_dir_lock(work)
        message = str(info.value)
        assert f'process {sleeper.pid} on host {socket.gethostname()}' \
            in message
        assert '--work-dir' in message
        assert held_token(work) == owner['token']  # left alone
    finally:
        sleeper.kill()
        sleeper.wait()


def test_other_machine_stale_after_its_heartbeat_stops(tmp_path, monkeypatch):
    work = str(tmp_path)
    other = dict(
        pid=12345,
        host='gpu-node-17',
        boot_id='another-boot',
        pid_namespace=None)
    # fresh heartbeat: refused, naming the other machine's process
    write_lock(work, heartbeat=time.time() - 5, **other)
    with pytest.raises(
            WorkDirBusyError, match='process 12345 on host '
            'gpu-node-17'):
        wdl.acquire_work_dir_lock(work)
    # 11 minutes without a heartbeat (stale after 10): taken over
    write_lock(work, heartbeat=time.time() - 11 * 60, **other)
    reason = wdl.stale_reason(wdl.WorkDirLock(work)._read())
    assert '11.0 minutes old' in reason
    # ... unless the shared-storage limit says otherwise
    monkeypatch.setenv(wdl.STALE_ENV, '30')
    with pytest.raises(WorkDirBusyError, match='older than 30 minutes'):
        wdl.acquire_work_dir_lock(work)
    monkeypatch.delenv(wdl.STALE_ENV)
    lock = wdl.acquire_work_dir_lock(work)
    assert held_token(work) == lock.token
    wdl.release_work_dir_lock(work)


def test_heartbeat_refreshed_while_held(tmp_path, monkeypatch):
    monkeypatch.setattr(wdl, 'HEARTBEAT_S', 0.05)
    work = str(tmp_path)
    lock = wdl.acquire_work_dir_lock(work)
    try:
        first = lock._read()['heartbeat']
        deadline = time.time() + 10
        while lock._read()['heartbeat'] == first and time.time() < deadline:
            time.sleep(0.05)
        assert lock._read()['heartbeat'] > first
        assert lock._read()['token'] == lock.token
        assert wdl.acquire_work_dir_lock(work) is lock  # re-entrant
    finally:
        wdl.release_work_dir_lock(work)
    assert not osp.exists(lock.path)


def test_only_rank_zero_takes_the_lock(tmp_path, monkeypatch):
    work = str(tmp_path)
    monkeypatch.setattr(wdl, 'get_dist_info', lambda: (1, 2))
    monkeypatch.setattr(wdl, 'broadcast_object_list', lambda box, src: None)
    wdl.hold_work_dir(work)
    assert not osp.exists(osp.join(work, wdl.LOCK_NAME))
    assert wdl.held_work_dir_lock(work) is None

    # rank 0's refusal reaches every rank
    def refused(box, src):
        box[0] = 'in use by another run: process 1 on host h'

    monkeypatch.setattr(wdl, 'broadcast_object_list', refused)
    with pytest.raises(WorkDirBusyError, match='process 1 on host h'):
        wdl.hold_work_dir(work)


def test_configs_declare_the_guarded_runner():
    from mmengine.registry import RUNNERS
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'default_runtime.py'))
    assert RUNNERS.get(cfg.runner_type) is GuardedRunner


def _wait_for(path, proc, timeout=300):
    deadline = time.time() + timeout
    while not osp.exists(path):
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f'run A ended early:\n{out}\n{err}')
        assert time.time() < deadline, f'{path} never appeared'
        time.sleep(0.1)


def _tree(folder):
    """Every file under ``folder`` (but the lock, whose heartbeat moves)
    with its content."""
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            if name != wdl.LOCK_NAME:
                with open(osp.join(root, name), 'rb') as f:
                    out[osp.relpath(osp.join(root, name), folder)] = f.read()
    return out


def test_second_run_in_a_live_work_dir_refused(tmp_path):
    data = make_imagenet_folder(
        str(tmp_path / 'data'), num_train=8, num_val=3, classes=5, size=20)
    teacher = save_tiny_teacher(str(tmp_path / 't.pth'))
    work = str(tmp_path / 'work')
    ready, release = str(tmp_path / 'ready'), str(tmp_path / 'release')
    pause = dict(
        type='TestWaitForFileHook', ready=ready, release=release, at_iter=3)
    cfg = reliability_cfg(
        work, data, teacher, max_epochs=2, mixup=False, extra_hooks=[pause])
    cfg.runner_type = 'mmpretrain.GuardedRunner'
    cfg.log_level = 'INFO'
    path = write_cfg(cfg, str(tmp_path / 'cfg.py'))
    # run A, paused in epoch 2 (epoch_1.pth written)
    run_a = subprocess.Popen([sys.executable, TRAIN_PY, path],
                             cwd=REPO,
                             env=subprocess_env(),
                             stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE,
                             text=True)
    try:
        _wait_for(ready, run_a)
        before = _tree(work)
        assert 'epoch_1.pth' in before
        # run B, another seed, under both tools/train.py and `mim train`:
        # refused at start
        args = [path, '--cfg-options', 'randomness.seed=1']
        mim = osp.join(osp.dirname(sys.executable), 'mim')
        for script in (TRAIN_PY, MMPRETRAIN_TRAIN_PY, mim):
            run_b = run_train(args, script=script) if script != mim else \
                subprocess.run([mim, 'train', 'mmenergykd'] + args,
                               cwd=REPO,
                               env=subprocess_env(),
                               capture_output=True,
                               text=True,
                               timeout=300)
            assert run_b.returncode != 0, run_b.stdout
            assert 'WorkDirBusyError' in run_b.stderr
            assert (f'process {run_a.pid} on host {socket.gethostname()}'
                    in run_b.stderr), run_b.stderr
            assert _tree(work) == before, 'run B wrote into the work dir'
        open(release, 'w').close()
        out, err = run_a.communicate(timeout=300)
    finally:
        if run_a.poll() is None:
            run_a.kill()
            run_a.wait()
    assert run_a.returncode == 0, err
    # run A finished unharmed: its checkpoints, its log, its config
    names = os.listdir(work)
    assert {'epoch_1.pth', 'epoch_2.pth'} <= set(names)
    assert wdl.LOCK_NAME not in names
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().strip() == osp.join(work, 'epoch_2.pth')
    with open(osp.join(work, 'epoch_1.pth'), 'rb') as f:
        assert f.read() == before['epoch_1.pth']
    logs = [n for n in names if osp.isdir(osp.join(work, n))]
    assert len(logs) == 1, logs  # no log folder of run B
    dumped = Config.fromfile(osp.join(work, 'cfg.py'))
    assert dumped.randomness.seed == 3
    with open(osp.join(work, logs[0], f'{logs[0]}.log')) as f:
        log = f.read()
    # one line per iteration (logger interval 1), none of run B's
    assert log.count('Epoch(train) ') == 4, log
    assert 'seed: 3' in log and 'seed: 1' not in log
