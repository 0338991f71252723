# Copyright (c) mmenergykd contributors. All rights reserved.
"""Checks and settings a distiller derives from its teacher and student."""
import os.path as osp
from typing import Optional, Union

import torch
from torch import Tensor, nn

from mmenergykd.models.utils import (compare_state_dicts, extract_state_dict,
                                     resolve_model_cfg)
from mmenergykd.models.utils.teacher_checkpoint import shape_mismatches

__all__ = [
    'fp16_autocast', 'preprocessor_cfg', 'check_num_classes',
    'check_preprocessor_classes', 'check_student_pretrained'
]


def fp16_autocast(device_type: str) -> bool:
    """Whether float16 autocast (with loss scaling) is on for the device."""
    try:
        return torch.is_autocast_enabled(device_type) and \
            torch.get_autocast_dtype(device_type) == torch.float16
    except (TypeError, AttributeError):  # torch < 2.4
        return device_type == 'cuda' and torch.is_autocast_enabled() and \
            torch.get_autocast_gpu_dtype() == torch.float16


def preprocessor_cfg(student: Union[dict, str],
                     data_preprocessor: Optional[dict]) -> dict:
    """The data preprocessor: the given one, else the student config's."""
    if data_preprocessor is None:
        data_preprocessor = resolve_model_cfg(student, 'student').get(
            'data_preprocessor', None) or {}
    data_preprocessor = dict(data_preprocessor)
    data_preprocessor.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
    return data_preprocessor


def check_num_classes(student: nn.Module, teacher: nn.Module) -> None:
    s_cls = getattr(student.head, 'num_classes', None)
    t_cls = getattr(teacher.head, 'num_classes', None)
    if s_cls is not None and t_cls is not None and s_cls != t_cls:
        raise ValueError(
            f'Teacher and student class counts differ: teacher head '
            f'num_classes={t_cls}, student head num_classes={s_cls}. Set '
            'the same `num_classes` in `model.student.head` and '
            '`model.teacher.head` (and in `data_preprocessor`).')


def check_preprocessor_classes(preprocessor: nn.Module,
                               student: nn.Module) -> None:
    """``data_preprocessor.num_classes`` must be the heads' class count.

    It sizes the one-hot labels of batch Mixup / CutMix; a different
    count would fail only inside the first training step. When unset
    and batch augments are used, it is taken from the student's head.
    """
    classes = getattr(student.head, 'num_classes', None)
    if classes is None or not hasattr(preprocessor, 'num_classes'):
        return
    current = preprocessor.num_classes
    if current is None:
        if getattr(preprocessor, 'batch_augments', None):
            preprocessor.num_classes = classes
        return
    if current != classes:
        raise ValueError(
            f'`data_preprocessor.num_classes` is {current}, but the '
            f'student and teacher heads have num_classes={classes}. Set '
            f'`data_preprocessor.num_classes={classes}` (it sizes the '
            'one-hot labels of batch Mixup / CutMix), or change '
            '`num_classes` of both heads to the dataset\'s class count.')


def check_student_pretrained(student: nn.Module) -> None:
    """Refuse a student ``Pretrained`` init that would load nothing.

    ``model.student.init_cfg=dict(type='Pretrained', ...)`` given a file
    none of whose weights fit the student (e.g. a distiller checkpoint
    without ``prefix='student.'``), or whose backbone is mostly of another
    shape: an error instead of MMEngine's warning.

    Args:
        student (nn.Module): The student classifier, before its
            ``init_weights``.
    """
    init_cfg = getattr(student, 'init_cfg', None)
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
        loaded = CheckpointLoader.load_checkpoint(source, map_location='cpu')
        state = extract_state_dict(loaded, source)
        prefix = cfg.get('prefix')
        if prefix:
            prefix = prefix if prefix.endswith('.') else prefix + '.'
            state = {
                k[len(prefix):]: v
                for k, v in state.items() if k.startswith(prefix)
            }
        expected = student.state_dict()
        fitting = [
            k for k in expected if k in state and isinstance(state[k], Tensor)
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
