# Copyright (c) mmenergykd contributors. All rights reserved.
import torch.nn.functional as F
from torch import Tensor, nn

from mmenergykd.registry import MODELS
from mmenergykd.utils.validation import (check_logits, check_non_negative,
                                         is_number)

__all__ = ['HardDistillLoss']


@MODELS.register_module()
class HardDistillLoss(nn.Module):
    """DeiT's hard distillation (Touvron et al., 2021, Eq. 3).

    The cross-entropy of the student's logits against the teacher's
    decision ``y_t = argmax_c t_c``:
    ``loss_weight * mean_i[-log softmax(s_i)[y_t,i]]``; with
    ``label_smoothing`` ``e`` the target is ``(1 - e) * onehot(y_t) + e / C``
    (the DeiT paper's variant with ``e = 0.1``). No temperature and no
    gradient to the teacher.

    DeiT trains its distillation token with it and its class token with the
    labels, each with weight 1/2: in a distiller, aim it at the distillation
    head (``student_head='dist'``) and set ``student_loss_weight=0.5``,
    ``loss_weight=0.5``.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        label_smoothing (float): Label smoothing of the teacher's hard
            label, in [0, 1]. Defaults to 0.0 (DeiT's code).

    Example:
        >>> loss = HardDistillLoss(loss_weight=0.5)
        >>> loss(torch.randn(8, 10), torch.randn(8, 10))
    """

    #: What ``EnergyKDDistiller`` passes to ``forward``.
    distill_inputs = ('student_logits', 'teacher_logits')

    def __init__(self,
                 loss_weight: float = 1.0,
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        check_non_negative('loss_weight', loss_weight)
        if not is_number(label_smoothing) or not 0 <= label_smoothing <= 1:
            raise ValueError(
                '`label_smoothing` of HardDistillLoss must be in [0, 1] (0: '
                f"the teacher's hard label), got {label_smoothing!r}.")
        self.loss_weight = float(loss_weight)
        self.label_smoothing = float(label_smoothing)

    def forward(self, student_logits: Tensor,
                teacher_logits: Tensor) -> Tensor:
        """The cross-entropy against the teacher's decisions, weighted.

        Args:
            student_logits (Tensor): The student's (distillation head's)
                logits, (B, C).
            teacher_logits (Tensor): The teacher's logits, (B, C); only
                their argmax is used.

        Returns:
            Tensor: The mean over the batch as a float32 scalar, times
            ``loss_weight``.
        """
        check_logits(student_logits, teacher_logits)
        decisions = teacher_logits.detach().argmax(dim=1)
        return self.loss_weight * F.cross_entropy(
            student_logits.float(),
            decisions,
            label_smoothing=self.label_smoothing)
