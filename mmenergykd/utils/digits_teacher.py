# Copyright (c) mmenergykd contributors. All rights reserved.
"""Where the digits benchmark's teacher lives, and which one may live there.

Every digits distillation config (``configs/*/*_digits.py``) names its
teacher ``{{$MMENERGYKD_DIGITS_TEACHER:~/.cache/mmenergykd/digits/
teacher.pth}}`` (``configs/_base_/models/digits_distiller.py``): a per-user
place, the same for an editable install, ``pip install .``, any working
directory and ``mim train``. ``tools/benchmark_digits.py`` stores there the
teacher of a full run (:func:`publish_digits_teacher`, with the run's kind in
the checkpoint's ``meta``); a ``--quick`` run keeps its shortened teacher in
its own work dir. Loading a teacher from that place, the teacher loader asks
this module for the command that makes a missing one
(:func:`missing_teacher_hint`) and refuses a teacher whose meta marks it as a
smoke test (:func:`check_teacher_run_kind`).
"""
import os
import os.path as osp
import shutil
from typing import Any, Optional

from .atomic_files import fsync_path

__all__ = [
    'DIGITS_TEACHER_ENV', 'DEFAULT_DIGITS_TEACHER', 'RUN_KIND_KEY',
    'REFUSED_RUN_KINDS', 'MAKE_DIGITS_TEACHER', 'digits_teacher_path',
    'is_digits_teacher', 'missing_teacher_hint', 'check_teacher_run_kind',
    'publish_digits_teacher'
]

#: The environment variable that moves the digits teacher elsewhere.
DIGITS_TEACHER_ENV = 'MMENERGYKD_DIGITS_TEACHER'
#: Where the digits configs look for their teacher by default (the same
#: text as in configs/_base_/models/digits_distiller.py).
DEFAULT_DIGITS_TEACHER = '~/.cache/mmenergykd/digits/teacher.pth'
#: The ``meta`` key of a benchmark teacher that says which run made it.
RUN_KIND_KEY = 'run_kind'
#: Run kinds whose teacher the digits configs refuse, and why.
REFUSED_RUN_KINDS = {
    'quick':
    'a `--quick` run of tools/benchmark_digits.py (a smoke test: its '
    'teacher trained for a shortened schedule)',
}
#: The commands that train the teacher and store it for the configs.
MAKE_DIGITS_TEACHER = (
    '`python tools/benchmark_digits.py` (in a source checkout) or '
    '`mim run mmenergykd benchmark_digits` (an installed package)')


def digits_teacher_path() -> str:
    """The file the digits configs load as their teacher.

    Returns:
        str: ``$MMENERGYKD_DIGITS_TEACHER`` when set, else
        ``~/.cache/mmenergykd/digits/teacher.pth``, user-expanded and
        absolute.
    """
    path = os.environ.get(DIGITS_TEACHER_ENV) or DEFAULT_DIGITS_TEACHER
    return osp.abspath(osp.expanduser(path))


def is_digits_teacher(path: str) -> bool:
    """Whether ``path`` is the place the digits configs load from."""
    mine = osp.abspath(osp.expanduser(path))
    return mine == digits_teacher_path() or (osp.exists(mine) and osp.exists(
        digits_teacher_path()) and osp.samefile(mine, digits_teacher_path()))


def missing_teacher_hint(path: str) -> Optional[str]:
    """How to make the teacher at ``path``, when it is the digits teacher.

    Args:
        path (str): A teacher checkpoint path that does not exist.

    Returns:
        str | None: The commands that make it and how to point the configs
        elsewhere; None for any other path.
    """
    if not is_digits_teacher(path):
        return None
    return (f'It is the teacher of the digits configs: train it with '
            f'{MAKE_DIGITS_TEACHER}, which stores it there; or point '
            f'{DIGITS_TEACHER_ENV} (or --cfg-options model.teacher_ckpt=...) '
            'at a trained teacher.')


def check_teacher_run_kind(checkpoint: Any, path: str) -> None:
    """Refuse a smoke-test teacher at the digits configs' place.

    Args:
        checkpoint: The loaded teacher checkpoint.
        path (str): Where it was loaded from.

    Raises:
        ValueError: ``path`` is the digits teacher's place and the
            checkpoint's ``meta`` names a run kind of
            :data:`REFUSED_RUN_KINDS`.
    """
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    kind = meta.get(RUN_KIND_KEY) if isinstance(meta, dict) else None
    if kind not in REFUSED_RUN_KINDS or not is_digits_teacher(path):
        return
    raise ValueError(
        f'The digits teacher {digits_teacher_path()!r} was made by '
        f'{REFUSED_RUN_KINDS[kind]} '
        f'(meta {RUN_KIND_KEY}={kind!r}); the digits configs do not distil '
        f'from it. Train the full teacher with {MAKE_DIGITS_TEACHER}; to '
        'distil from this one anyway, copy it elsewhere and name the copy '
        'with --cfg-options model.teacher_ckpt=PATH.')


def publish_digits_teacher(source: str) -> str:
    """Copy a full benchmark teacher to where the digits configs look.

    The copy goes through a temporary file and a rename, so a config never
    reads a half-written teacher.

    Args:
        source (str): The teacher checkpoint a full run saved.

    Returns:
        str: The path it was copied to (:func:`digits_teacher_path`).
    """
    target = digits_teacher_path()
    folder = osp.dirname(target)
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(target)}.{os.getpid()}.tmp')
    shutil.copyfile(source, tmp)
    fsync_path(tmp)
    os.replace(tmp, target)
    fsync_path(folder)
    return target
