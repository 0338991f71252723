# Copyright (c) mmenergykd contributors. All rights reserved.
"""What an ``EnergyKDDistiller`` records about its teacher and student, and
checks when a checkpoint is loaded into it.

- A plain classifier checkpoint (keys without ``student.``) given to
  ``resume`` / ``load_from`` / ``tools/test.py``: a clear error naming the
  setting that takes such a file.
- A distiller checkpoint whose student differs from ``model.student``
  (missing / unexpected keys, shape mismatches): an error listing them.
  MMEngine loads with ``strict=False`` and would only warn, keeping the
  mismatched layers randomly initialised.
- A distiller checkpoint written with another teacher (architecture or
  weights, compared by fingerprint; the file's path may move): training
  from it (``resume`` / ``load_from``) raises before the first step, since
  the stored energy thresholds belong to the old teacher. Evaluation
  (``tools/test.py``) only uses the student and is allowed.
"""
import hashlib
import json
import warnings
from typing import Dict, List, Optional

import torch
from torch import Tensor, nn

from mmenergykd.models.utils import compare_state_dicts

__all__ = [
    'CheckpointIdentity', 'architecture_signature', 'weights_fingerprint'
]

_PLAIN_PREFIXES = ('backbone.', 'neck.', 'head.', 'data_preprocessor.')
_FORMAT = 'mmenergykd.distiller_identity/1'


def architecture_signature(module: nn.Module) -> str:
    """A short hash of the module's state-dict keys, shapes and dtypes."""
    digest = hashlib.sha256(type(module).__name__.encode())
    for key, value in module.state_dict().items():
        shape = tuple(value.shape) if isinstance(value, Tensor) else ()
        dtype = str(value.dtype) if isinstance(value, Tensor) else ''
        digest.update(f'{key}:{shape}:{dtype};'.encode())
    return digest.hexdigest()[:16]


def weights_fingerprint(module: nn.Module) -> str:
    """A short hash of the module's weights (every byte of its state dict)."""
    digest = hashlib.sha256()
    for key, value in module.state_dict().items():
        digest.update(key.encode())
        if isinstance(value, Tensor):
            data = value.detach().cpu().contiguous().reshape(-1)
            digest.update(data.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def _encode(obj: dict) -> Tensor:
    return torch.tensor(list(json.dumps(obj).encode()), dtype=torch.uint8)


def _decode(value) -> Optional[dict]:
    try:
        if isinstance(value, Tensor):
            value = bytes(value.to(torch.uint8).tolist()).decode()
        obj = json.loads(value) if isinstance(value, str) else value
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(obj, dict) and obj.get('format') == _FORMAT:
        return obj
    return None


class CheckpointIdentity:
    """What an ``EnergyKDDistiller`` records about its teacher and student,
    and the checks of a checkpoint loaded into it (see the module doc).

    The record (teacher architecture and weights fingerprints,
    ``teacher_ckpt``, student architecture) is the distiller's ``extra
    state``: a uint8 tensor holding JSON, stored under ``_extra_state`` in
    every checkpoint of the distiller (a tensor, so MMEngine's
    ``weights_to_cpu`` and ``torch.load(weights_only=True)`` handle it).

    Args:
        teacher (nn.Module): The teacher classifier.
        teacher_ckpt (str, optional): Where its weights came from.
        student (nn.Module): The student classifier.
    """

    def __init__(self, teacher: nn.Module, teacher_ckpt: Optional[str],
                 student: nn.Module) -> None:
        self.record = dict(
            format=_FORMAT,
            teacher=dict(
                ckpt=teacher_ckpt,
                type=type(teacher).__name__,
                architecture=architecture_signature(teacher),
                weights=weights_fingerprint(teacher),
                num_classes=getattr(teacher.head, 'num_classes', None)),
            student=dict(
                type=type(student).__name__,
                architecture=architecture_signature(student),
                num_classes=getattr(student.head, 'num_classes', None)))
        self.problem: Optional[str] = None

    def encode(self) -> Tensor:
        """The record as the distiller's extra state (a uint8 tensor)."""
        return _encode(self.record)

    def compare(self, state) -> None:
        """Compare a checkpoint's extra state with this record; a different
        teacher is remembered (and warned about) until
        :meth:`check_compatibility` refuses it."""
        saved = _decode(state)
        if saved is None:
            return
        self.problem = _teacher_difference(
            saved.get('teacher', {}), self.record['teacher'])
        if self.problem:
            warnings.warn(self.problem)

    def check_state_dict(self, state_dict: Dict[str, object],
                         student: nn.Module) -> None:
        """Refuse a state dict that is no checkpoint of this distiller
        (before it is loaded; forgets an earlier checkpoint's problem).

        Args:
            state_dict (dict): The whole distiller's state dict.
            student (nn.Module): The student it is loaded into.
        """
        self.problem = None
        _check_distiller_state_dict(student, state_dict)

    def check_compatibility(self) -> None:
        """Raise if the loaded checkpoint was trained with another teacher.

        Called before calibration and at the start of every training step
        (a cheap attribute test), so resuming or fine-tuning from such a
        checkpoint stops before anything is trained or saved.
        """
        if self.problem:
            raise ValueError(self.problem)


def _teacher_difference(saved: dict, current: dict) -> Optional[str]:
    changes: List[str] = []
    if saved.get('architecture') != current.get('architecture'):
        changes.append(
            f"architecture ({saved.get('type')}, {saved.get('num_classes')} "
            f"classes, signature {saved.get('architecture')} in the "
            f"checkpoint; {current.get('type')}, {current.get('num_classes')}"
            f" classes, signature {current.get('architecture')} now)")
    elif saved.get('weights') != current.get('weights'):
        changes.append(
            f"weights (fingerprint {saved.get('weights')} from teacher_ckpt="
            f"{saved.get('ckpt')!r} in the checkpoint; "
            f"{current.get('weights')} from teacher_ckpt="
            f"{current.get('ckpt')!r} now)")
    if not changes:
        return None
    return (
        'The checkpoint was trained with a different teacher: `model.teacher`'
        ' / `model.teacher_ckpt` differ in ' + '; '.join(changes) + '. Its '
        'energy thresholds and optimizer state belong to that teacher. To '
        "resume, use the checkpoint's own config (`model.teacher`, "
        f"`model.teacher_ckpt={saved.get('ckpt')!r}`). To distil the trained "
        'student further from another teacher, export it '
        '(tools/export_student.py) and start a new run with '
        "`model.student.init_cfg=dict(type='Pretrained', checkpoint=...)`.")


def _check_distiller_state_dict(student: nn.Module,
                                state_dict: Dict[str, object]) -> None:
    keys = list(state_dict)
    student_state = {
        k[len('student.'):]: v
        for k, v in state_dict.items() if k.startswith('student.')
    }
    if not student_state:
        if any(k.startswith(_PLAIN_PREFIXES) for k in keys):
            raise ValueError(
                'The checkpoint holds a plain classifier (keys such as '
                f'{keys[0]!r}, no `student.` prefix), not an '
                'EnergyKDDistiller training checkpoint, so it cannot be '
                'resumed / loaded into the distiller (`resume`, `load_from`, '
                'tools/test.py). To start distillation from these weights '
                "set `model.student.init_cfg=dict(type='Pretrained', "
                "checkpoint='<file>')`; to use them as the teacher set "
                '`model.teacher_ckpt`; to evaluate them use MMPretrain\'s '
                'tools/test.py with the student config.')
        shown = ', '.join(keys[:5]) + (', ...' if len(keys) > 5 else '')
        raise ValueError(
            'The checkpoint is not an EnergyKDDistiller training checkpoint '
            f'(no `student.` keys; its keys: {shown or "none"}). Pass a '
            'checkpoint written by an mmenergykd training run.')
    problems = compare_state_dicts(student.state_dict(), student_state)
    if problems:
        raise ValueError(
            "The checkpoint's student does not match `model.student` of "
            'this config (the checkpoint was trained with another student '
            'architecture or num_classes). Use the config the checkpoint '
            'was trained with:\n  ' + '\n  '.join(problems))
