# Copyright (c) mmenergykd contributors. All rights reserved.
"""What an ``EnergyKDDistiller`` checks when a checkpoint is loaded into it.

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
- ``model.student.init_cfg=dict(type='Pretrained', ...)`` given a file
  none of whose weights fit the student (e.g. a distiller checkpoint
  without ``prefix='student.'``): an error instead of MMEngine's warning.
"""
import hashlib
import json
import os.path as osp
import warnings
from typing import Dict, List, Optional

import torch
from torch import Tensor, nn

from mmenergykd.models.utils.teacher_checkpoint import (compare_state_dicts,
                                                        extract_state_dict,
                                                        shape_mismatches)

__all__ = [
    'CheckpointGuardMixin', 'architecture_signature', 'weights_fingerprint'
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


class CheckpointGuardMixin:
    """Checkpoint checks of ``EnergyKDDistiller`` (see the module doc).

    The distiller's identity (teacher architecture and weights fingerprints,
    ``teacher_ckpt``, student architecture) is its ``extra state``: a uint8
    tensor holding JSON, stored under ``_extra_state`` in every checkpoint
    of the distiller (a tensor, so MMEngine's ``weights_to_cpu`` and
    ``torch.load(weights_only=True)`` handle it).
    """

    def _record_identity(self) -> None:
        teacher = self.teacher
        self.__dict__['_identity'] = dict(
            format=_FORMAT,
            teacher=dict(
                ckpt=self.teacher_ckpt,
                type=type(teacher).__name__,
                architecture=architecture_signature(teacher),
                weights=weights_fingerprint(teacher),
                num_classes=getattr(teacher.head, 'num_classes', None)),
            student=dict(
                type=type(self.student).__name__,
                architecture=architecture_signature(self.student),
                num_classes=getattr(self.student.head, 'num_classes', None)))
        self.__dict__['_checkpoint_problem'] = None

    @property
    def identity(self) -> dict:
        """What this distiller records about its teacher and student."""
        return self.__dict__['_identity']

    # -- extra state -------------------------------------------------------
    def get_extra_state(self) -> Tensor:
        return _encode(self.identity)

    def set_extra_state(self, state) -> None:
        saved = _decode(state)
        if saved is None:
            return
        problem = _teacher_difference(
            saved.get('teacher', {}), self.identity['teacher'])
        self.__dict__['_checkpoint_problem'] = problem
        if problem:
            warnings.warn(problem)

    def check_checkpoint_compatibility(self) -> None:
        """Raise if the loaded checkpoint was trained with another teacher.

        Called before calibration and at the start of every training step
        (a cheap attribute test), so resuming or fine-tuning from such a
        checkpoint stops before anything is trained or saved.
        """
        problem = self.__dict__.get('_checkpoint_problem')
        if problem:
            raise ValueError(problem)

    # -- loading -------------------------------------------------------------
    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys,
                              error_msgs) -> None:
        if prefix == '':
            self.__dict__['_checkpoint_problem'] = None
            _check_distiller_state_dict(self, state_dict)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def _check_student_pretrained(self) -> None:
        """Refuse a student ``Pretrained`` init that would load nothing."""
        init_cfg = getattr(self.student, 'init_cfg', None)
        cfgs = init_cfg if isinstance(init_cfg, list) else [init_cfg]
        for cfg in cfgs:
            if not isinstance(cfg, dict) or cfg.get('type') != 'Pretrained':
                continue
            source = cfg.get('checkpoint')
            if not isinstance(source, str):
                continue
            if '://' not in source and not osp.isfile(osp.expanduser(source)):
                raise FileNotFoundError(
                    f"`model.student.init_cfg` (type='Pretrained') names "
                    f'checkpoint={source!r}, which does not exist. Fix the '
                    'path, or remove the init_cfg to start from random '
                    'weights.')
            from mmengine.runner import CheckpointLoader
            loaded = CheckpointLoader.load_checkpoint(
                source, map_location='cpu')
            state = extract_state_dict(loaded, source)
            prefix = cfg.get('prefix')
            if prefix:
                prefix = prefix if prefix.endswith('.') else prefix + '.'
                state = {
                    k[len(prefix):]: v
                    for k, v in state.items() if k.startswith(prefix)
                }
            expected = self.student.state_dict()
            fitting = [
                k for k in expected
                if k in state and isinstance(state[k], Tensor)
                and tuple(state[k].shape) == tuple(expected[k].shape)
            ]
            # Most backbone weights of another shape mean another
            # architecture or width (MMEngine would only warn and keep them
            # random). A few are the usual fine-tuning case (a resized
            # position embedding, a new stem) and a head of another shape
            # too: MMEngine's warning is enough there.
            backbone = [
                k for k in expected if k.startswith('backbone.')
                and not k.endswith('num_batches_tracked')
            ]
            wrong = shape_mismatches(expected, state, backbone)
            if backbone and 2 * len(wrong) > len(backbone):
                raise ValueError(
                    f'`model.student.init_cfg` loads {source!r}, whose '
                    'backbone does not fit `model.student` (another '
                    'architecture or width): '
                    f'{len(wrong)} of its {len(backbone)} weight tensors '
                    'have another shape:\n  ' + '\n  '.join(wrong[:20]) +
                    '\nUse a checkpoint of the student architecture, or '
                    "change `model.student` to the checkpoint's "
                    'architecture.')
            if any(not k.endswith('num_batches_tracked') for k in fitting):
                continue
            hint = ''
            if any(k.startswith('student.') for k in state):
                hint = (" It is an EnergyKDDistiller checkpoint: add "
                        "`prefix='student.'` to the init_cfg, or export the "
                        'student with tools/export_student.py.')
            problems = compare_state_dicts(expected, state)
            raise ValueError(
                f'`model.student.init_cfg` loads {source!r}, but none of its '
                'weights fit `model.student`.' + hint + '\n  ' +
                '\n  '.join(problems))


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


def _check_distiller_state_dict(model, state_dict: Dict[str, object]) -> None:
    keys = list(state_dict)
    student = {
        k[len('student.'):]: v
        for k, v in state_dict.items() if k.startswith('student.')
    }
    if not student:
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
    problems = compare_state_dicts(model.student.state_dict(), student)
    if problems:
        raise ValueError(
            "The checkpoint's student does not match `model.student` of "
            'this config (the checkpoint was trained with another student '
            'architecture or num_classes). Use the config the checkpoint '
            'was trained with:\n  ' + '\n  '.join(problems))
