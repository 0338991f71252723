# Copyright (c) mmenergykd contributors. All rights reserved.
"""One run per work dir: a lock file with stale-lock detection.

A run holds ``WORK_DIR/run.lock`` from before it writes anything in the work
dir (its log, its dumped config, its checkpoints) until it ends. The file is
JSON naming the holder::

    {"format": 1, "pid": 4242, "host": "node7", "boot_id": "...",
     "pid_namespace": "pid:[4026531836]", "start_ticks": 123456,
     "started": "2025-01-31 12:00:00", "heartbeat": 1738324800.0,
     "command": "python tools/train.py ...", "token": "9f0c..."}

A second run that finds a live holder is refused with its process id and
host. A lock whose holder is gone never blocks; it is *stale* when:

- the holder ran on this machine (same host name, boot and process
  namespace) and its process no longer runs, or its process id now belongs
  to a process started at another time (a reused id);
- the holder ran on another machine (a work dir on shared storage) and its
  heartbeat, which the live run refreshes every :data:`HEARTBEAT_S` seconds,
  is older than :func:`stale_after_s` (10 minutes by default; set
  ``MMENERGYKD_LOCK_STALE_MINUTES`` to change it, and keep the machines'
  clocks in step, e.g. with NTP).

A stale lock is moved aside (renamed, so that of two runs breaking it at
once only one succeeds) and the new run takes the work dir.
"""
import atexit
import json
import logging
import os
import os.path as osp
import threading
import time
import uuid
from typing import Dict, Optional

from mmengine.dist import broadcast_object_list, get_dist_info
from mmengine.logging import print_log

from .process_info import (pid_alive, process_record, read_text, same_machine,
                           start_ticks)

__all__ = [
    'LOCK_NAME', 'HEARTBEAT_S', 'WorkDirBusyError', 'WorkDirLock',
    'acquire_work_dir_lock', 'held_work_dir_lock', 'hold_work_dir',
    'release_work_dir_lock', 'stale_after_s', 'stale_reason'
]

#: The lock's file name inside the work dir.
LOCK_NAME = 'run.lock'
#: Seconds between two heartbeats of a live run.
HEARTBEAT_S = 60.0
#: Environment variable: minutes without a heartbeat after which another
#: machine's lock is stale.
STALE_ENV = 'MMENERGYKD_LOCK_STALE_MINUTES'
_DEFAULT_STALE_MINUTES = 10.0
#: A lock file younger than this that cannot be read is being written.
_FRESH_S = 30.0
_TRIES = 10


class WorkDirBusyError(RuntimeError):
    """Another live run holds the work dir."""


def stale_after_s() -> float:
    """Seconds without a heartbeat after which another machine's lock is
    stale (``MMENERGYKD_LOCK_STALE_MINUTES``, default 10 minutes).

    Returns:
        float: The limit in seconds.
    """
    raw = os.environ.get(STALE_ENV, '')
    try:
        minutes = float(raw) if raw else _DEFAULT_STALE_MINUTES
    except ValueError:
        raise ValueError(f'{STALE_ENV}={raw!r} is not a number of minutes '
                         f'(e.g. {STALE_ENV}=10).') from None
    return max(minutes, 0.0) * 60.0


def stale_reason(owner: Dict, now: Optional[float] = None) -> Optional[str]:
    """Why the lock of ``owner`` no longer holds, or None while it does.

    Args:
        owner (dict): The lock file's content.
        now (float, optional): The time to judge heartbeats at.

    Returns:
        str | None: The reason, in words; None when the holder is alive.
    """
    pid = owner.get('pid')
    if same_machine(owner) and isinstance(pid, int):
        if not pid_alive(pid):
            return f'process {pid} no longer runs'
        ticks, recorded = start_ticks(pid), owner.get('start_ticks')
        if ticks is not None and recorded is not None and ticks != recorded:
            return (f'process id {pid} now belongs to another process '
                    '(started at another time)')
        return None
    now = time.time() if now is None else now
    age = now - float(owner.get('heartbeat') or 0.0)
    if age > stale_after_s():
        return (f'its last heartbeat is {age / 60:.1f} minutes old (a live '
                f'run refreshes it every {HEARTBEAT_S:.0f} s; stale after '
                f'{stale_after_s() / 60:g} minutes, {STALE_ENV})')
    return None


def _busy_message(path: str, owner: Dict) -> str:
    age = time.time() - float(owner.get('heartbeat') or 0.0)
    return (
        f'The work dir {osp.dirname(path)} is in use by another run: '
        f"process {owner.get('pid')} on host {owner.get('host')} (started "
        f"{owner.get('started')}, last heartbeat {age:.0f} s ago; command: "
        f"{owner.get('command')}). Two runs in one work dir overwrite each "
        "other's checkpoints, log and last_checkpoint. Wait for it to "
        'finish or stop it, or pass another `--work-dir`. A lock left by a '
        'dead run never blocks: on this machine it is ignored once its '
        'process has ended; from another machine once its heartbeat is '
        f'older than {stale_after_s() / 60:g} minutes ({STALE_ENV}). '
        f'Lock file: {path}.')


class WorkDirLock:
    """The lock of one work dir held by this process (see the module).

    Args:
        work_dir (str): The work dir.
    """

    def __init__(self, work_dir: str) -> None:
        self.work_dir = osp.abspath(work_dir)
        self.path = osp.join(self.work_dir, LOCK_NAME)
        self.token = uuid.uuid4().hex
        self.pid = os.getpid()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _write_new(self) -> bool:
        """Create the lock file unless one exists (atomically)."""
        tmp = f'{self.path}.{os.getpid()}.{self.token[:8]}.tmp'
        with open(tmp, 'w') as f:
            json.dump(process_record(self.token), f)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, self.path)  # fails when the lock exists
            return True
        except FileExistsError:
            return False
        except OSError:  # no hard links on this file system
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return False
            with open(tmp, 'rb') as src, os.fdopen(fd, 'wb') as dst:
                dst.write(src.read())
            return True
        finally:
            os.remove(tmp)

    def _read(self, path: Optional[str] = None) -> Optional[Dict]:
        text = read_text(path or self.path)
        try:
            owner = json.loads(text) if text else None
        except ValueError:
            owner = None
        return owner if isinstance(owner, dict) else None

    def _break(self, owner: Dict) -> None:
        """Move a stale lock aside; put it back when it was replaced."""
        grave = f'{self.path}.stale.{os.getpid()}.{self.token[:8]}'
        try:
            os.rename(self.path, grave)
        except FileNotFoundError:
            return
        moved = self._read(grave)
        if moved is not None and moved.get('token') != owner.get('token'):
            try:  # another run took the lock in between: give it back
                os.link(grave, self.path)
            except OSError:
                pass
        os.remove(grave)

    def acquire(self) -> None:
        """Take the lock (breaking a stale one).

        Raises:
            WorkDirBusyError: A live run holds it.
        """
        os.makedirs(self.work_dir, exist_ok=True)
        for _ in range(_TRIES):
            if self._write_new():
                self._start_heartbeat()
                return
            owner = self._read()
            if owner is None:
                try:
                    age = time.time() - os.stat(self.path).st_mtime
                except FileNotFoundError:
                    continue
                if age < _FRESH_S:  # being written by another run
                    time.sleep(0.2)
                    continue
                owner, reason = {}, 'the file is unreadable'
            else:
                reason = stale_reason(owner)
            if reason is None:
                raise WorkDirBusyError(_busy_message(self.path, owner))
            print_log(
                f'Removing the stale lock {self.path} of process '
                f"{owner.get('pid')} on host {owner.get('host')}: {reason}.",
                logger='current',
                level=logging.WARNING)
            self._break(owner)
        raise WorkDirBusyError(
            f'Could not take the lock {self.path} after {_TRIES} tries: '
            'other runs keep taking it. Start one run per work dir.')

    def _start_heartbeat(self) -> None:
        self._thread = threading.Thread(
            target=self._beat, name='work-dir-lock-heartbeat', daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            owner = self._read()
            if owner is None or owner.get('token') != self.token:
                print_log(
                    f'The lock {self.path} of this run was removed or taken '
                    'by another run; two runs may now share the work dir.',
                    logger='current',
                    level=logging.WARNING)
                return
            owner['heartbeat'] = time.time()
            tmp = f'{self.path}.{os.getpid()}.{self.token[:8]}.tmp'
            try:
                with open(tmp, 'w') as f:
                    json.dump(owner, f)
                os.replace(tmp, self.path)
            except OSError:  # a full or unreachable disk: try again later
                pass

    def release(self) -> None:
        """Stop the heartbeat and remove the lock file (if still ours)."""
        self._stop.set()
        if self._thread is not None and \
                self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        owner = self._read()
        if owner is not None and owner.get('token') == self.token:
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass


_HELD: Dict[str, WorkDirLock] = {}
_HELD_GUARD = threading.Lock()


def held_work_dir_lock(work_dir: str) -> Optional[WorkDirLock]:
    """The lock this process holds on ``work_dir``, if any.

    Args:
        work_dir (str): The work dir.

    Returns:
        WorkDirLock | None: The lock, or None.
    """
    lock = _HELD.get(osp.abspath(work_dir))
    # A forked child inherits the table but not the lock.
    return lock if lock is not None and lock.pid == os.getpid() else None


def acquire_work_dir_lock(work_dir: str) -> WorkDirLock:
    """Hold ``work_dir`` for this process (a no-op when it already does).

    Args:
        work_dir (str): The work dir.

    Returns:
        WorkDirLock: The held lock.

    Raises:
        WorkDirBusyError: Another live run holds the work dir.
    """
    key = osp.abspath(work_dir)
    with _HELD_GUARD:
        lock = held_work_dir_lock(key)
        if lock is None:
            lock = WorkDirLock(key)
            lock.acquire()
            _HELD[key] = lock
        return lock


def release_work_dir_lock(work_dir: str) -> None:
    """Give ``work_dir`` up (a no-op when this process does not hold it).

    Args:
        work_dir (str): The work dir.
    """
    with _HELD_GUARD:
        lock = held_work_dir_lock(work_dir)
        if lock is not None:
            del _HELD[lock.work_dir]
    if lock is not None:
        lock.release()


def hold_work_dir(work_dir: str) -> None:
    """Hold ``work_dir`` for a (possibly distributed) run.

    Only rank 0 takes the lock; its refusal is raised on every rank, so no
    rank waits for a partner that has stopped.

    Args:
        work_dir (str): The work dir.

    Raises:
        WorkDirBusyError: Another live run holds the work dir.
    """
    rank, world_size = get_dist_info()
    error = None
    if rank == 0:
        try:
            acquire_work_dir_lock(work_dir)
        except WorkDirBusyError as err:
            error = str(err)
    if world_size > 1:
        box = [error]
        broadcast_object_list(box, src=0)
        error = box[0]
    if error is not None:
        raise WorkDirBusyError(error)


@atexit.register
def _release_all() -> None:
    for work_dir in list(_HELD):
        release_work_dir_lock(work_dir)
