# Copyright (c) mmenergykd contributors. All rights reserved.
"""What ``tools/train.py`` / ``tools/test.py`` add to MMPretrain's tools."""
import datetime
import glob
import logging
import os
import os.path as osp
import shlex
import sys
import zipfile
from typing import List, Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log

from mmenergykd.utils.config_type import config_type_name

__all__ = [
    'check_reliability', 'check_epoch_settings', 'setup_cpu_distributed',
    'shutdown_distributed', 'find_resumable_checkpoint',
    'is_complete_checkpoint', 'last_complete_checkpoint', 'resume_command'
]

RESUMABLE_LOOP = 'ResumableEpochBasedTrainLoop'
ATOMIC_CHECKPOINT_HOOK = 'AtomicCheckpointHook'


def check_reliability(cfg: Config) -> List[str]:
    """Warn when a training config lacks exact resume or safe checkpoints.

    mmenergykd's configs declare both in their ``_base_`` (so that they hold
    under any launcher); nothing is injected. A config that names plain
    MMEngine types (or none) trains as MMEngine does, and this says what it
    gives up:

    - ``train_cfg`` is not ``ResumableEpochBasedTrainLoop``: a resumed run
      differs from the uninterrupted one (random crops, shuffling, Mixup and
      HE-DA's CutMix are not re-seeded per batch; a mid-epoch checkpoint
      restarts its epoch);
    - ``default_hooks.checkpoint`` is not ``AtomicCheckpointHook``: a run
      killed while saving can leave a truncated checkpoint.

    Args:
        cfg (Config): The training config.

    Returns:
        list[str]: The warnings logged (empty when both are declared).
    """
    found = []
    train_cfg = cfg.get('train_cfg')
    if isinstance(train_cfg, dict) and \
            config_type_name(train_cfg) != RESUMABLE_LOOP and \
            not _is_iteration_based(train_cfg):
        found.append(
            f'`train_cfg` is not {RESUMABLE_LOOP}: a resumed run will not '
            'match the uninterrupted one (per-batch seeding and mid-epoch '
            f"resume need `train_cfg=dict(type='{RESUMABLE_LOOP}', ...)`).")
    hooks = cfg.get('default_hooks') or {}
    ckpt = hooks.get('checkpoint') if isinstance(hooks, dict) else None
    if isinstance(ckpt, dict) and config_type_name(ckpt) != \
            ATOMIC_CHECKPOINT_HOOK:
        found.append(
            '`default_hooks.checkpoint` is not '
            f'{ATOMIC_CHECKPOINT_HOOK}: a run killed while saving can leave '
            "a truncated checkpoint (set `type='AtomicCheckpointHook'`, "
            'same arguments as CheckpointHook).')
    for message in found:
        print_log(message, logger='current', level=logging.WARNING)
    return found


def _is_iteration_based(train_cfg) -> bool:
    if not isinstance(train_cfg, dict):
        return False
    if train_cfg.get('type') is None:
        return not train_cfg.get('by_epoch', True)
    return config_type_name(train_cfg) == 'IterBasedTrainLoop'


def check_epoch_settings(cfg: Config) -> None:
    """Refuse epoch-counted settings under an iteration-based train loop.

    ``model.loss_warmup_epochs`` and ``HighEnergyAugmentHook(epochs=...)``
    count epochs; under ``IterBasedTrainLoop`` the epoch stays 0, so the
    warm-up would never end and HE-DA would only run in "epoch 0".

    Args:
        cfg (Config): The training config.

    Raises:
        ValueError: Naming the setting and the fix.
    """
    if not _is_iteration_based(cfg.get('train_cfg')):
        return
    found = []
    model = cfg.get('model') or {}
    warmup = model.get('loss_warmup_epochs') if isinstance(model,
                                                           dict) else None
    if any((warmup or {}).values()):
        found.append('`model.loss_warmup_epochs`')
    for hook in cfg.get('custom_hooks') or []:
        if isinstance(hook, dict) and config_type_name(
                hook) == 'HighEnergyAugmentHook' and \
                hook.get('epochs') is not None:
            found.append('`epochs` of HighEnergyAugmentHook')
    if found:
        raise ValueError(
            f"{' and '.join(found)} count epochs, but `train_cfg` is "
            'iteration-based (IterBasedTrainLoop), where the epoch stays 0. '
            'Train by epoch (`train_cfg=dict(by_epoch=True, max_epochs=...)`)'
            ' or remove those settings.')


def setup_cpu_distributed(cfg: Config) -> None:
    """Start a ``torchrun`` job's process group on a machine without CUDA.

    MMEngine's ``pytorch`` launcher calls ``torch.cuda.set_device``, which
    fails without an NVIDIA driver even with the gloo backend. When the
    launcher is ``pytorch`` and CUDA is unavailable, the gloo process group
    is initialised here (MMEngine then skips its own initialisation) and the
    DDP wrapper is told not to use device ids (CPU modules).

    Args:
        cfg (Config): The config (``launcher`` set), changed in place.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return
    env_cfg = cfg.get('env_cfg') or {}
    dist_cfg = dict(env_cfg.get('dist_cfg') or {})
    backend = dist_cfg.pop('backend', 'gloo')
    if backend != 'gloo':
        print_log(
            f'No CUDA device: using the gloo backend instead of '
            f'`env_cfg.dist_cfg.backend={backend!r}`.',
            logger='current',
            level=logging.WARNING)
    timeout = dist_cfg.pop('timeout', None)
    if timeout is not None and not isinstance(timeout, datetime.timedelta):
        timeout = datetime.timedelta(seconds=timeout)
    if not torch_dist.is_initialized():
        kwargs = dict(timeout=timeout) if timeout is not None else {}
        torch_dist.init_process_group(backend='gloo', **kwargs)
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            device_ids=None,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    elif isinstance(wrapper, dict):
        wrapper.setdefault('device_ids', None)


def shutdown_distributed() -> None:
    """End a distributed job's process group cleanly (no-op otherwise).

    MMEngine never destroys the process group it starts. A gloo process
    group left to the interpreter's exit can abort a rank with ``terminate
    called without an active exception`` (SIGABRT) after training finished,
    which ``torchrun`` reports as a failed job. All ranks meet at a barrier
    first, so none tears down while another still communicates.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a whole ``torch.save`` file (zip format).

    A file cut short by a kill lacks the zip central directory at its end.
    """
    if not osp.isfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return any(
                name.endswith('data.pkl') for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _named_by_last_checkpoint(work_dir: str, last: str) -> Optional[str]:
    """The complete checkpoint ``last_checkpoint``'s content ``last`` means.

    The file holds an absolute path: after the work dir was moved or
    copied, the checkpoint of that name in ``work_dir`` is the one meant.
    """
    here = osp.join(work_dir, osp.basename(last))
    if osp.abspath(osp.dirname(last)) != osp.abspath(work_dir) and \
            is_complete_checkpoint(here):
        return here
    return last if is_complete_checkpoint(last) else None


def _newest_complete_checkpoint(work_dir: str) -> Optional[str]:
    candidates = [
        p for p in glob.glob(osp.join(work_dir, '*.pth'))
        if not osp.basename(p).startswith('best_')
    ]
    candidates.sort(key=lambda p: os.stat(p).st_mtime, reverse=True)
    for path in candidates:
        if is_complete_checkpoint(path):
            return path
    return None


def last_complete_checkpoint(work_dir: str) -> Optional[str]:
    """:func:`find_resumable_checkpoint` without its log lines.

    Args:
        work_dir (str): The run's work directory.

    Returns:
        str | None: A path, or None when there is nothing to resume from.
    """
    last_file = osp.join(work_dir, 'last_checkpoint')
    last = ''
    if osp.isfile(last_file):
        with open(last_file) as f:
            last = f.read().strip()
    found = _named_by_last_checkpoint(work_dir, last) if last else None
    return found or _newest_complete_checkpoint(work_dir)


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint that ``--resume`` (no path) should continue from.

    The checkpoint ``work_dir/last_checkpoint`` names when it is complete
    (in ``work_dir`` when the work dir was moved since: the file holds an
    absolute path); otherwise (the file is missing, empty, or names a
    deleted / truncated checkpoint) the newest complete ``*.pth`` in
    ``work_dir`` (``best_*`` excluded).

    Args:
        work_dir (str): The run's work directory.

    Returns:
        str | None: A path, or None when there is nothing to resume from.
    """
    last_file = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(last_file):
        with open(last_file) as f:
            last = f.read().strip()
        found = _named_by_last_checkpoint(work_dir, last) if last else None
        if found is not None and found != last:
            print_log(
                f'{last_file} names {last!r}, outside this work dir (it '
                f'was moved or copied since): resuming from {found}.',
                logger='current',
                level=logging.INFO)
        if found is not None:
            return found
        if not last:
            why = 'is empty'
        elif not osp.exists(last):
            why = f'names {last!r}, which does not exist'
        else:
            why = (f'names {last!r}, which is not a complete checkpoint '
                   '(cut short, e.g. by a run killed while saving)')
        print_log(
            f'{last_file} {why}; looking for the newest complete checkpoint '
            f'in {work_dir}.',
            logger='current',
            level=logging.WARNING)
    return _newest_complete_checkpoint(work_dir)


def _strip_resume(args: List[str]) -> List[str]:
    """``args`` without ``--resume`` (and the checkpoint it names)."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
            if arg.endswith('.pth') or '://' in arg:
                continue
        if arg == '--resume':
            skip = True
            continue
        if not arg.startswith('--resume='):
            out.append(arg)
    return out


def resume_command(config: Optional[str],
                   work_dir: str,
                   world_size: int = 1) -> str:
    """The command that resumes this process's training run.

    This process's own command line with ``--resume`` when it is a
    ``train.py`` (ours, MMPretrain's, or the one ``mim train`` runs);
    otherwise ``tools/train.py`` on the config and the work dir.

    Args:
        config (str, optional): The config file.
        work_dir (str): The work dir.
        world_size (int): Processes of the run.

    Returns:
        str: A shell command.
    """
    argv = list(sys.argv)
    if argv and osp.basename(argv[0]) == 'train.py':
        words = ['python', argv[0]] + _strip_resume(argv[1:])
    else:
        words = [
            'python', 'tools/train.py', config or 'CONFIG', '--work-dir',
            work_dir
        ]
    command = shlex.join(words + ['--resume'])
    if world_size > 1:
        command += f' (with the same launcher and {world_size} processes)'
    return command
