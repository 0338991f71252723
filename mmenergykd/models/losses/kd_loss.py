# Copyright (c) mmenergykd contributors. All rights reserved.
from torch import Tensor, nn

from mmenergykd.registry import MODELS
from mmenergykd.utils.validation import (check_logits, check_non_negative,
                                         check_temperature)
from .functional import per_sample_kd

__all__ = ['KDLoss']


@MODELS.register_module()
class KDLoss(nn.Module):
    """Vanilla knowledge distillation (Hinton et al., 2015).

    ``loss_weight * mean_i[T^2 * KL(softmax(t_i / T) || softmax(s_i / T))]``.

    Args:
        temperature (float): The distillation temperature. Defaults to 4.0.
        loss_weight (float): Weight of the loss. Defaults to 1.0.

    Example:
        >>> loss = KDLoss(temperature=4.0, loss_weight=0.9)
        >>> loss(torch.randn(8, 10), torch.randn(8, 10))
    """

    #: What ``EnergyKDDistiller`` passes to ``forward``.
    distill_inputs = ('student_logits', 'teacher_logits')

    def __init__(self, temperature: float = 4.0, loss_weight: float = 1.0):
        super().__init__()
        check_temperature('temperature', temperature)
        check_non_negative('loss_weight', loss_weight)
        self.temperature = float(temperature)
        self.loss_weight = float(loss_weight)

    def forward(self, student_logits: Tensor,
                teacher_logits: Tensor) -> Tensor:
        """Compute the weighted loss.

        Args:
            student_logits (Tensor): Shape (B, C).
            teacher_logits (Tensor): Shape (B, C).

        Returns:
            Tensor: A float32 scalar, already multiplied by ``loss_weight``.
        """
        check_logits(student_logits, teacher_logits)
        per_sample = per_sample_kd(student_logits, teacher_logits,
                                   self.temperature)
        return self.loss_weight * per_sample.mean()
