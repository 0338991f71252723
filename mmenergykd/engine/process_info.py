# Copyright (c) mmenergykd contributors. All rights reserved.
"""Who a process is: host, boot, process namespace and start time.

What the work dir lock records of its holder and checks of a lock it
finds: a process id means the same process only on the same machine (host
name, boot and process namespace alike) and only while the process with
that id started at the recorded time (ids are reused).
"""
import datetime
import os
import os.path as osp
import shlex
import socket
import sys
import time
from typing import Dict, Optional

__all__ = [
    'pid_alive', 'pid_namespace', 'process_record', 'read_text',
    'same_machine', 'start_ticks'
]


def read_text(path: str) -> Optional[str]:
    """A small text file's stripped content, or None when unreadable.

    Args:
        path (str): The file.

    Returns:
        str | None: The content.
    """
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def start_ticks(pid: int) -> Optional[int]:
    """A process's start time (clock ticks after boot), where /proc has it.

    Args:
        pid (int): The process id.

    Returns:
        int | None: The start time, or None (no such process, no /proc).
    """
    stat = read_text(f'/proc/{pid}/stat')
    if not stat:
        return None
    try:  # the fields after the command name, which may hold spaces
        return int(stat.rsplit(')', 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


def pid_namespace() -> Optional[str]:
    """This process's pid namespace (containers have their own).

    Returns:
        str | None: E.g. ``'pid:[4026531836]'``; None without /proc.
    """
    try:
        return os.readlink('/proc/self/ns/pid')
    except OSError:
        return None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (an ended, unreaped one does not).

    Args:
        pid (int): The process id.

    Returns:
        bool: Whether it runs.
    """
    stat = read_text(f'/proc/{pid}/stat')
    if stat and stat.rsplit(')', 1)[-1].split()[:1] in (['Z'], ['X']):
        return False  # ended, not yet reaped by its parent
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # runs, under another user
        return True
    except OSError:
        return False
    return True


def process_record(token: str) -> Dict:
    """What a lock file records of this process.

    Args:
        token (str): The lock's unique token.

    Returns:
        dict: The record (see :mod:`mmenergykd.engine.work_dir_lock`).
    """
    return dict(
        format=1,
        pid=os.getpid(),
        host=socket.gethostname(),
        boot_id=read_text('/proc/sys/kernel/random/boot_id'),
        pid_namespace=pid_namespace(),
        start_ticks=start_ticks(os.getpid()),
        started=datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S'),
        heartbeat=time.time(),
        command=shlex.join([osp.basename(sys.executable)] + sys.argv),
        token=token)


def same_machine(owner: Dict) -> bool:
    """Whether the process ids of a record mean the same as ours.

    Args:
        owner (dict): A record of :func:`process_record`.

    Returns:
        bool: Same host name, boot and pid namespace (unknowns match).
    """
    here = process_record('')
    return all(
        owner.get(key) == here[key] or owner.get(key) is None
        or here[key] is None for key in ('host', 'boot_id', 'pid_namespace'))
