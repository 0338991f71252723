# Copyright (c) mmenergykd contributors. All rights reserved.
from typing import Sequence

from torch import Tensor, nn

from mmenergykd.registry import MODELS
from mmenergykd.utils.validation import (check_finite_logits,
                                         check_non_negative,
                                         check_temperature_set,
                                         check_view_logits)
from .mlkd_functional import mlkd_bracket

__all__ = ['MLKDLoss']


@MODELS.register_module()
class MLKDLoss(nn.Module):
    """Multi-Level Logit Distillation (Jin, Wang, Lin, CVPR 2023).

    Computes the distillation part of the official MLKD code's total loss,
    quirks included, so published MLKD numbers are reproducible. With
    ``s_w, s_s, t_w, t_s`` the student / teacher logits of the weak / strong
    view and ``Ts`` the temperature set:

    .. code-block:: text

        kd(s, t, T) = mean_i[T^2 * KL(softmax(t_i/T) || softmax(s_i/T))]
        bc(s, t, T) = sum((P_t P_t^T - P_s P_s^T)^2) / B,  P = softmax(z/T)
        cc(s, t, T) = sum((P_t^T P_t - P_s^T P_s)^2) / C
        loss = loss_weight * [ m * sum_T kd(s_w, t_w, T)
                               + kd(s_s, t_s, 4) + kd(s_s, t_s, 3)
                               + kd(s_s, t_s, 5) + kd(s_w, t_w, 2)
                               + kd(s_w, t_w, 6)
                               + m_c * sum_T cc(s_w, t_w, T)
                               + m * sum_T bc(s_w, t_w, T) ]

    ``m`` is the share of samples whose teacher confidence
    ``max_c softmax(t_w)_ic`` is ``<=`` its batch median; ``m_c`` the share
    of classes whose summed teacher probability ``sum_i softmax(t_w)_ic``
    is ``<=`` its median (median: NumPy's 50th percentile with linear
    interpolation; softmax at temperature 1). The label loss on both views
    (``0.1 * (CE(s_w, y) + CE(s_s, y))`` in the recipe) is the distiller's
    student loss, not part of this loss.

    Quirks of the official code kept here (the published numbers depend on
    them):

    - The confidence masks multiply terms that are already batch means, so
      they only scale them by the masked share ``m`` / ``m_c`` (the paper
      describes per-sample / per-class masking).
    - The second ("strong") instance-level sum takes the strong-view logits
      for the first three temperatures and the WEAK-view logits for the
      others (with the default set: strong at 4, 3, 5, weak at 2 and 6).
    - The strong view's class- and batch-level terms are computed by the
      official code but not added to its loss; they are left out here.
    - The unmasked instance terms use the same temperature set, so the
      weak view at T = 2 and T = 6 is counted twice.

    Computation is in float32 whatever the input dtype; the teacher logits
    are detached (the teacher runs under ``no_grad`` in the recipe).

    Args:
        temperatures (Sequence[float]): The temperature set ``Ts``; the
            official code's ``KD.TEMPERATURE`` (4 on CIFAR-100, 1 in its
            ImageNet config) followed by 3, 5, 2, 6. Defaults to
            ``(4.0, 3.0, 5.0, 2.0, 6.0)``.
        loss_weight (float): ``w_kd``. Defaults to 0.9 (the recipe's).

    Example:
        >>> loss = MLKDLoss()
        >>> s_w, s_s, t_w, t_s = torch.randn(4, 8, 100).unbind(0)
        >>> loss(s_w, s_s, t_w, t_s)
    """

    #: What the distiller passes to ``forward``.
    distill_inputs = ('student_weak', 'student_strong', 'teacher_weak',
                      'teacher_strong')

    def __init__(self,
                 temperatures: Sequence[float] = (4.0, 3.0, 5.0, 2.0, 6.0),
                 loss_weight: float = 0.9):
        super().__init__()
        self.temperatures = check_temperature_set(temperatures)
        check_non_negative('loss_weight', loss_weight)
        self.loss_weight = float(loss_weight)

    def forward(self, student_weak: Tensor, student_strong: Tensor,
                teacher_weak: Tensor, teacher_strong: Tensor) -> Tensor:
        """Compute the weighted loss.

        Args:
            student_weak (Tensor): Student logits of the weak view, (B, C).
            student_strong (Tensor): Student logits of the strong view.
            teacher_weak (Tensor): Teacher logits of the weak view.
            teacher_strong (Tensor): Teacher logits of the strong view.

        Returns:
            Tensor: A float32 scalar, already multiplied by ``loss_weight``.
        """
        check_view_logits(student_weak, student_strong, teacher_weak,
                          teacher_strong)
        check_finite_logits(teacher_weak)
        check_finite_logits(teacher_strong)
        bracket = mlkd_bracket(student_weak, student_strong, teacher_weak,
                               teacher_strong, self.temperatures)
        return self.loss_weight * bracket

    def extra_repr(self) -> str:
        return (f'temperatures={self.temperatures}, '
                f'loss_weight={self.loss_weight}')
