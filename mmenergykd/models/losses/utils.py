# Copyright (c) mmenergykd contributors. All rights reserved.
"""Checks shared by the distillation losses."""
from torch import Tensor

from mmenergykd.utils.validation import check_finite_logits, check_non_negative

__all__ = [
    'check_logits', 'check_labels', 'check_loss_weight', 'check_dkd_weights'
]


def check_logits(student_logits: Tensor,
                 teacher_logits: Tensor,
                 check_finite: bool = True) -> None:
    """Check that student and teacher logits fit together and are usable.

    Args:
        student_logits (Tensor): Shape (B, C), B > 0.
        teacher_logits (Tensor): Shape (B, C).
        check_finite (bool): Also raise on NaN / Inf teacher logits. This
            reads a value back from the device (a host-device
            synchronisation); ``EnergyKDDistiller`` turns it off in its
            losses because it checks the teacher's logits itself (see its
            ``check_finite_teacher``).
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


def check_labels(gt_labels: Tensor, student_logits: Tensor) -> None:
    """Labels must be one class index per sample, within the class range."""
    if gt_labels.reshape(-1).numel() != student_logits.shape[0]:
        raise ValueError(
            f'`gt_labels` must hold one class index per sample '
            f'({student_logits.shape[0]}), got shape {tuple(gt_labels.shape)}.'
        )
    if student_logits.shape[1] < 2:
        raise ValueError('DKD needs at least 2 classes (`num_classes`).')


def check_loss_weight(loss_weight: float) -> None:
    """Raise a ValueError unless ``loss_weight`` is a finite number >= 0."""
    check_non_negative('loss_weight', loss_weight)


def check_dkd_weights(alpha: float, beta: float) -> None:
    """``alpha`` and ``beta`` must be finite numbers >= 0."""
    check_non_negative('alpha', alpha)
    check_non_negative('beta', beta)
