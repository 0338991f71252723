# Copyright (c) mmenergykd contributors. All rights reserved.
"""Every check of a setting or an input, with errors that name the setting
and the fix: numbers, temperatures, ratios, and the logits and labels the
distillation losses are given."""
import contextlib
import contextvars
import math
from typing import Any, Iterator, Sequence, Tuple

import torch
from torch import Tensor

__all__ = [
    'is_number', 'check_positive', 'check_non_negative', 'check_ratio',
    'check_temperature', 'check_temperature_set', 'check_finite_logits',
    'teacher_logits_checked', 'check_logits', 'check_view_logits',
    'check_labels', 'MAX_TEMPERATURE'
]

#: Largest accepted temperature: far above any useful value (KD uses 1-20)
#: and far below where ``T ** 2`` or ``logits / T`` stop being meaningful in
#: float32.
MAX_TEMPERATURE = 1e4

# True inside a distillation step whose teacher logits were checked once,
# where they were produced (see teacher_logits_checked).
_TEACHER_LOGITS_CHECKED = contextvars.ContextVar(
    'teacher_logits_checked', default=False)


def is_number(value: Any) -> bool:
    """An int or float, not a bool (``True`` is an int in Python)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_positive(name: str, value: Any) -> None:
    """Raise a ValueError unless ``value`` is a finite number > 0."""
    if not is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(
            f'`{name}` must be a finite number > 0, got {value!r}. '
            f'Set `{name}` to a positive value in the config.')


def check_non_negative(name: str, value: Any) -> None:
    """Raise a ValueError unless ``value`` is a finite number >= 0."""
    if not is_number(value) or not math.isfinite(value) or value < 0:
        raise ValueError(f'`{name}` must be a finite number >= 0, got '
                         f'{value!r}. Fix `{name}` in the config.')


def check_temperature(name: str, value: Any) -> None:
    """Raise a ValueError unless ``0 < value <= MAX_TEMPERATURE``."""
    check_positive(name, value)
    if value > MAX_TEMPERATURE:
        raise ValueError(
            f'`{name}` must be at most {MAX_TEMPERATURE:g}, got {value!r} '
            '(KD temperatures are usually 1 to 20; the energy temperature '
            f'4). Set `{name}` to a value in (0, {MAX_TEMPERATURE:g}].')


def check_temperature_set(temperatures: Sequence[float]) -> Tuple[float]:
    """Validate MLKD's temperature set and return it as a tuple of floats.

    Args:
        temperatures (Sequence[float]): The set, e.g. ``(4, 3, 5, 2, 6)``.

    Returns:
        tuple[float]: The temperatures as floats.
    """
    if not isinstance(temperatures, (list, tuple)) or not temperatures:
        raise ValueError(
            '`temperatures` must be a non-empty list or tuple of positive '
            f'numbers, got {temperatures!r}. Set e.g. '
            '`temperatures=(4.0, 3.0, 5.0, 2.0, 6.0)` (the MLKD recipe).')
    for index, value in enumerate(temperatures):
        check_temperature(f'temperatures[{index}]', value)
    return tuple(float(t) for t in temperatures)


def check_ratio(name: str, value: Any) -> None:
    """Raise a ValueError unless ``value`` lies in [0, 1]."""
    if not is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError(
            f'`{name}` must be a share of the data in [0, 1], got '
            f'{value!r}. Set `{name}` between 0 and 1 in the config.')


@contextlib.contextmanager
def teacher_logits_checked() -> Iterator[None]:
    """Within: :func:`check_finite_logits` passes without looking.

    ``EnergyKDDistiller`` checks the teacher's logits once per step, where
    they are produced (``FrozenTeacher`` or the teacher bank), and runs its
    losses in this context, so no loss repeats the check (each repeat would
    be one more host-device synchronisation). A loss used on its own checks
    the logits it is given.
    """
    token = _TEACHER_LOGITS_CHECKED.set(True)
    try:
        yield
    finally:
        _TEACHER_LOGITS_CHECKED.reset(token)


def check_finite_logits(teacher_logits: Tensor) -> None:
    """Raise a ValueError when the teacher's logits hold NaN or Inf.

    Reads one value back from the device (a host-device synchronisation);
    does nothing inside :func:`teacher_logits_checked`.

    Args:
        teacher_logits (Tensor): The teacher's logits.
    """
    if _TEACHER_LOGITS_CHECKED.get():
        return
    if not torch.isfinite(teacher_logits).all():
        raise ValueError(
            'The teacher produced non-finite logits (NaN or Inf). Check '
            '`teacher_ckpt` (a corrupted or mismatched checkpoint) and the '
            'input normalisation (`data_preprocessor` mean/std).')


def check_logits(student_logits: Tensor,
                 teacher_logits: Tensor,
                 check_finite: bool = True) -> None:
    """Check that student and teacher logits fit together and are usable.

    Args:
        student_logits (Tensor): Shape (B, C), B > 0.
        teacher_logits (Tensor): Shape (B, C).
        check_finite (bool): Also refuse NaN / Inf teacher logits
            (:func:`check_finite_logits`).
    """
    if student_logits.shape != teacher_logits.shape \
            or student_logits.dim() != 2:
        raise ValueError(
            'Student and teacher logits must both have shape (batch, '
            f'num_classes), got student {tuple(student_logits.shape)} and '
            f'teacher {tuple(teacher_logits.shape)}. Make `num_classes` of '
            'the student head equal to that of the teacher head.')
    if student_logits.shape[0] == 0:
        raise ValueError(
            'The distillation loss got an empty batch (0 samples), whose '
            'mean is NaN. Feed at least one sample (check the batch size and '
            'any sample selection before the loss).')
    if check_finite:
        check_finite_logits(teacher_logits)


def check_view_logits(student_weak: Tensor, student_strong: Tensor,
                      teacher_weak: Tensor, teacher_strong: Tensor) -> None:
    """Check that the four logits of a two-view batch fit together.

    Args:
        student_weak (Tensor): Shape (B, C), B > 0.
        student_strong (Tensor): Shape (B, C).
        teacher_weak (Tensor): Shape (B, C).
        teacher_strong (Tensor): Shape (B, C).
    """
    check_logits(student_weak, teacher_weak, check_finite=False)
    check_logits(student_strong, teacher_strong, check_finite=False)
    if student_weak.shape != student_strong.shape:
        raise ValueError(
            'The weak- and strong-view logits must have the same shape '
            f'(batch, num_classes), got weak {tuple(student_weak.shape)} and '
            f'strong {tuple(student_strong.shape)}. Both views must come '
            "from the same images: use MMPretrain's `MultiView` with one "
            'weak and one strong pipeline and `MultiViewClsDataPreprocessor`.')


def check_labels(gt_labels: Tensor, student_logits: Tensor) -> None:
    """Labels must be one class index per sample, within the class range.

    Args:
        gt_labels (Tensor): Class indices, one per sample.
        student_logits (Tensor): The student's logits (B, C), C >= 2.
    """
    if gt_labels.reshape(-1).numel() != student_logits.shape[0]:
        raise ValueError(
            f'`gt_labels` must hold one class index per sample '
            f'({student_logits.shape[0]}), got shape {tuple(gt_labels.shape)}.'
        )
    if student_logits.shape[1] < 2:
        raise ValueError('DKD needs at least 2 classes (`num_classes`).')
