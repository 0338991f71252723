# Copyright (c) mmenergykd contributors. All rights reserved.
"""Strict loading of a teacher checkpoint in the OpenMMLab layout."""
import os.path as osp
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional

import torch
from torch import nn

from mmenergykd.utils.checkpoint import (CheckpointSafetyError,
                                         CorruptCheckpointError,
                                         fillable_bn_counter,
                                         load_local_checkpoint,
                                         load_url_checkpoint)
from mmenergykd.utils.digits_teacher import (check_teacher_run_kind,
                                             missing_teacher_hint)

__all__ = [
    'load_teacher_checkpoint', 'extract_state_dict', 'compare_state_dicts',
    'shape_mismatches'
]

_MAX_LISTED = 20


def _listing(keys: List[str]) -> str:
    shown = ', '.join(keys[:_MAX_LISTED])
    more = len(keys) - _MAX_LISTED
    return shown + (f', ... ({more} more)' if more > 0 else '')


def extract_state_dict(checkpoint: object, source: str) -> Dict[str, object]:
    """The model weights of a checkpoint, with a ``module.`` prefix removed.

    Args:
        checkpoint: What ``torch.load`` returned: ``{'state_dict': ...}``
            (OpenMMLab), ``{'model': ...}`` or a bare state dict.
        source (str): The file, for error messages.

    Returns:
        dict: The state dict.
    """
    if not isinstance(checkpoint, dict):
        raise ValueError(f'Teacher checkpoint {source!r} is not a dict of '
                         f'weights (got {type(checkpoint).__name__}).')
    state_dict = checkpoint
    for key in ('state_dict', 'model'):
        if key in checkpoint and isinstance(checkpoint[key], dict):
            state_dict = checkpoint[key]
            break
    return OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in state_dict.items())


def shape_mismatches(expected: Dict[str, torch.Tensor],
                     given: Dict[str, object],
                     keys: Optional[Iterable[str]] = None) -> List[str]:
    """``'key: checkpoint (shape) vs model (shape)'`` for each key (default:
    every key of ``expected``) whose tensor in ``given`` has another shape."""
    return [
        f'{k}: checkpoint {tuple(given[k].shape)} vs model '
        f'{tuple(expected[k].shape)}'
        for k in (expected if keys is None else keys)
        if k in given and isinstance(given[k], torch.Tensor)
        and tuple(given[k].shape) != tuple(expected[k].shape)
    ]


def compare_state_dicts(expected: Dict[str, torch.Tensor],
                        given: Dict[str, object]) -> List[str]:
    """Problems found loading ``given`` into a model with ``expected``.

    Returns:
        list[str]: One line each for missing keys, unexpected keys and
        shape mismatches; empty when the two fit.
    """
    problems = []
    missing = [
        k for k in expected
        if k not in given and not fillable_bn_counter(k, given)
    ]
    unexpected = [k for k in given if k not in expected]
    mismatched = shape_mismatches(expected, given)
    if missing:
        problems.append(f'missing keys ({len(missing)}): {_listing(missing)}')
    if unexpected:
        problems.append(
            f'unexpected keys ({len(unexpected)}): {_listing(unexpected)}')
    if mismatched:
        problems.append(f'shape mismatches ({len(mismatched)}): '
                        f'{_listing(mismatched)}')
    return problems


def load_teacher_checkpoint(teacher: nn.Module, teacher_ckpt: str) -> None:
    """Load ``teacher_ckpt`` into ``teacher`` strictly.

    The file is loaded with ``torch.load(weights_only=True)`` (plus MMEngine's
    own checkpoint classes), so a crafted file cannot run code.

    Args:
        teacher (nn.Module): The built teacher.
        teacher_ckpt (str): A local path or an HTTP(S) URL.

    Raises:
        FileNotFoundError: The local file does not exist.
        ConnectionError: The URL cannot be reached.
        ValueError: The checkpoint does not fit the teacher (every missing /
            unexpected key and shape mismatch is listed), or it is a full
            distiller training checkpoint.
    """
    if not isinstance(teacher_ckpt, str) or not teacher_ckpt:
        raise TypeError(
            f'`model.teacher_ckpt` must be a file path or an http(s) URL '
            f'(a non-empty string), got {teacher_ckpt!r}.')
    try:
        checkpoint = _load(teacher_ckpt)
    except (FileNotFoundError, ConnectionError, CheckpointSafetyError,
            CorruptCheckpointError):
        raise
    except Exception as err:  # e.g. a safetensors or foreign file
        raise ValueError(
            f'`model.teacher_ckpt` {teacher_ckpt!r} could not be read as a '
            f'PyTorch checkpoint ({type(err).__name__}: {err}). Pass a .pth '
            "file in the OpenMMLab layout ({'state_dict': ...}) or a bare "
            'state dict saved with torch.save.') from err
    # the digits configs' teacher must not be a smoke-test (--quick) one
    check_teacher_run_kind(checkpoint, teacher_ckpt)
    state_dict = extract_state_dict(checkpoint, teacher_ckpt)
    if any(k.startswith('student.') for k in state_dict):
        raise ValueError(
            f'`teacher_ckpt` {teacher_ckpt!r} is an EnergyKDDistiller '
            'training checkpoint (keys start with `student.`). Export the '
            'trained student first with `python tools/export_student.py '
            'CONFIG CHECKPOINT OUT` and pass OUT as `teacher_ckpt`.')
    expected = teacher.state_dict()
    problems = compare_state_dicts(expected, state_dict)
    if problems:
        meta = checkpoint.get('meta')  # a dict: extract_state_dict checked
        exported = isinstance(meta, dict) and 'exported_from' in meta
        kind = (' is a student exported by tools/export_student.py (from '
                f"{meta['exported_from']!r}) and" if exported else '')
        raise ValueError(
            f'`teacher_ckpt` {teacher_ckpt!r}{kind} does not fit the teacher '
            f'model ({type(teacher).__name__}); check that `model.teacher` '
            'is the architecture the checkpoint was trained with (and its '
            '`num_classes`):\n  ' + '\n  '.join(problems))
    non_finite = [
        k for k, v in state_dict.items() if isinstance(v, torch.Tensor)
        and v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    if non_finite:
        raise ValueError(
            f'`teacher_ckpt` {teacher_ckpt!r} holds non-finite (NaN / Inf) '
            f'weights in {len(non_finite)} tensors: {_listing(non_finite)}. '
            'The teacher would give non-finite logits; use an intact '
            'checkpoint of the teacher (a run that diverged saves such '
            'weights).')
    teacher.load_state_dict(state_dict, strict=True)


def _load(teacher_ckpt: str) -> object:
    if teacher_ckpt.startswith(('http://', 'https://')):
        return load_url_checkpoint(teacher_ckpt, map_location='cpu')
    if teacher_ckpt.startswith('file://'):
        teacher_ckpt = teacher_ckpt[len('file://'):]
    path = osp.expanduser(teacher_ckpt)
    if osp.isdir(path):
        raise FileNotFoundError(
            f'`teacher_ckpt` {teacher_ckpt!r} is a directory, not a '
            'checkpoint file. Set `model.teacher_ckpt` to the .pth file.')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'`teacher_ckpt` {teacher_ckpt!r} does not exist. ' +
            (missing_teacher_hint(path) or 'Set `model.teacher_ckpt` to an '
             'existing file or a URL.'))
    return load_local_checkpoint(path, map_location='cpu')
