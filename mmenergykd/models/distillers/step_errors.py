# Copyright (c) mmenergykd contributors. All rights reserved.
"""Errors of a training step that say which batch and what to fix."""
import contextlib
from typing import Dict, Iterator, List, Optional, Sequence

import torch
from mmengine.logging import MessageHub

__all__ = [
    'batch_name', 'add_note', 'teacher_errors', 'student_errors',
    'check_finite_loss'
]


def batch_name(data_samples: Optional[List]) -> str:
    """'Training iteration i (epoch e), dataset indices [...]'."""
    hub = MessageHub.get_current_instance()
    name = (f"Training iteration {hub.get_info('iter', '?')} (0-based, "
            f"epoch {hub.get_info('epoch', '?')})")
    indices = [
        s.get('sample_idx') for s in (data_samples or [])
        if hasattr(s, 'get') and s.get('sample_idx') is not None
    ]
    if indices:
        more = ', ...' if len(indices) > 16 else ''
        name += f', dataset indices {indices[:16]}{more}'
    return name


def add_note(err: BaseException, note: str) -> None:
    """Say where an error happened, keeping its type and traceback.

    Out-of-memory errors are left alone (their own message is the fix).
    """
    if isinstance(err, torch.cuda.OutOfMemoryError) or \
            not hasattr(err, 'add_note'):
        return
    err.add_note(note)


@contextlib.contextmanager
def teacher_errors(data_samples: Optional[List]) -> Iterator[None]:
    """Name the batch in an error of the teacher's forward or bank lookup.

    Args:
        data_samples (list, optional): The batch's data samples.
    """
    try:
        yield
    except ValueError as err:
        raise ValueError(f'{batch_name(data_samples)}: {err}') from err
    except RuntimeError as err:
        add_note(err, batch_name(data_samples))
        raise


@contextlib.contextmanager
def student_errors(data_samples: Optional[List],
                   shape: Sequence[int]) -> Iterator[None]:
    """Name the batch and the likely fixes in an error of the student.

    Args:
        data_samples (list, optional): The batch's data samples.
        shape (Sequence[int]): The shape of the student's inputs.
    """
    try:
        yield
    except RuntimeError as err:
        add_note(
            err, f'{batch_name(data_samples)}: `model.student` failed on '
            f'inputs of shape {tuple(shape)}. If the error is about shapes '
            'or channels, check that `model.student` fits the data and '
            'itself (backbone `in_channels`, neck, `head.in_channels`) and '
            'the pipeline / `data_preprocessor`. No optimizer step was '
            'taken.')
        raise


def check_finite_loss(loss: torch.Tensor, log_vars: Dict[str, float]) -> None:
    """Refuse a non-finite total loss before the optimizer step.

    Args:
        loss (Tensor): The summed training loss.
        log_vars (dict): Its parts, as MMEngine's ``parse_losses`` logs them.
    """
    if bool(torch.isfinite(loss)):
        return
    parts = ', '.join(f'{k}={float(v):.4g}' for k, v in log_vars.items()
                      if 'loss' in k)
    raise ValueError(
        f'{batch_name(None)}: the training loss is non-finite ({parts}). No '
        'optimizer step was taken and nothing was saved for this step. Check '
        'the loss settings (temperatures, `loss_weight`s, '
        '`model.student_loss_weight`), the learning rate, and under fp16 AMP '
        'try bf16.')
