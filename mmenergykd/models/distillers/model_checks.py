# Copyright (c) mmenergykd contributors. All rights reserved.
"""Checks and settings a distiller derives from its teacher and student."""
from typing import Optional, Union

import torch
from torch import nn

from mmenergykd.models.utils import resolve_model_cfg

__all__ = [
    'fp16_autocast', 'preprocessor_cfg', 'check_num_classes',
    'check_preprocessor_classes'
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
