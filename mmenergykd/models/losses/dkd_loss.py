# Copyright (c) mmenergykd contributors. All rights reserved.
from torch import Tensor, nn

from mmenergykd.registry import MODELS
from mmenergykd.utils.validation import (check_labels, check_logits,
                                         check_non_negative, check_temperature)
from .functional import per_sample_dkd

__all__ = ['DKDLoss']


@MODELS.register_module()
class DKDLoss(nn.Module):
    """Decoupled Knowledge Distillation (Zhao et al., CVPR 2022).

    ``loss_weight * mean_i[T^2 * (alpha * TCKD_i + beta * NCKD_i)]``. The
    warm-up of the original method is not part of the loss: set
    ``loss_warmup_epochs`` of :class:`EnergyKDDistiller`.

    Args:
        alpha (float): Weight of target-class KD. Defaults to 1.0.
        beta (float): Weight of non-target-class KD. Defaults to 8.0.
        temperature (float): Distillation temperature. Defaults to 4.0.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    #: What ``EnergyKDDistiller`` passes to ``forward``.
    distill_inputs = ('student_logits', 'teacher_logits', 'gt_labels')

    def __init__(self,
                 alpha: float = 1.0,
                 beta: float = 8.0,
                 temperature: float = 4.0,
                 loss_weight: float = 1.0):
        super().__init__()
        check_non_negative('alpha', alpha)
        check_non_negative('beta', beta)
        check_temperature('temperature', temperature)
        check_non_negative('loss_weight', loss_weight)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.temperature = float(temperature)
        self.loss_weight = float(loss_weight)

    def forward(self, student_logits: Tensor, teacher_logits: Tensor,
                gt_labels: Tensor) -> Tensor:
        """Compute the weighted loss (no warm-up).

        Args:
            student_logits (Tensor): Shape (B, C).
            teacher_logits (Tensor): Shape (B, C).
            gt_labels (Tensor): Class indices of shape (B,).

        Returns:
            Tensor: A float32 scalar, already multiplied by ``loss_weight``.
        """
        check_logits(student_logits, teacher_logits)
        check_labels(gt_labels, student_logits)
        per_sample = per_sample_dkd(student_logits, teacher_logits, gt_labels,
                                    self.temperature, self.alpha, self.beta)
        return self.loss_weight * per_sample.mean()
