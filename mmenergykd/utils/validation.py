# Copyright (c) mmenergykd contributors. All rights reserved.
"""Generic number checks whose errors name the setting and the fix."""
import math
from typing import Any

import torch

__all__ = [
    'is_number', 'check_positive', 'check_non_negative', 'check_ratio',
    'check_temperature', 'check_finite_logits', 'MAX_TEMPERATURE'
]

#: Largest accepted temperature: far above any useful value (KD uses 1-20)
#: and far below where ``T ** 2`` or ``logits / T`` stop being meaningful in
#: float32.
MAX_TEMPERATURE = 1e4


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


def check_ratio(name: str, value: Any) -> None:
    """Raise a ValueError unless ``value`` lies in [0, 1]."""
    if not is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError(
            f'`{name}` must be a share of the data in [0, 1], got '
            f'{value!r}. Set `{name}` between 0 and 1 in the config.')


def check_finite_logits(teacher_logits: torch.Tensor) -> None:
    """Raise a ValueError when the teacher's logits hold NaN or Inf.

    Reads one value back from the device (a host-device synchronisation).
    """
    if not torch.isfinite(teacher_logits).all():
        raise ValueError(
            'The teacher produced non-finite logits (NaN or Inf). Check '
            '`teacher_ckpt` (a corrupted or mismatched checkpoint) and the '
            'input normalisation (`data_preprocessor` mean/std).')
