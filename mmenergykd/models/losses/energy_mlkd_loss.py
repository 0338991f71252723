# Copyright (c) mmenergykd contributors. All rights reserved.
from typing import Optional, Sequence

from torch import Tensor

from mmenergykd.registry import MODELS
from mmenergykd.utils.validation import (check_finite_logits,
                                         check_temperature_set,
                                         check_view_logits)
from ..energy import EnergyTemperatureLoss
from .mlkd_functional import mlkd_bracket

__all__ = ['EnergyMLKDLoss']


@MODELS.register_module()
class EnergyMLKDLoss(EnergyTemperatureLoss):
    """Energy MLKD: MLKD with every temperature scaled by the energy group.

    The first author's results table lists "Energy MLKD", but neither its
    code nor its formula is public. This is mmenergykd's reading, named as
    such: the energy group of sample i comes from the teacher's energy on
    the WEAK view (thresholds from the usual calibration on weak views, or
    :meth:`set_thresholds`); every temperature of sample i in every term of
    :class:`MLKDLoss` is multiplied by ``T_group(i) / mid_temperature``. So
    with the default set ``(4, 3, 5, 2, 6)`` and the paper's direction
    (6 / 4 / 2), T = 4 becomes 6 / 4 / 2 and T = 3 becomes 4.5 / 3 / 1.5;
    in the release's direction (2 / 4 / 6), the other way round.

    - kd terms: ``mean_i[T_i^2 * KL(softmax(t_i/T_i) || softmax(s_i/T_i))]``
      (the ``T^2`` factor per sample; the strong view's terms use the
      weak-view group of the same image);
    - bc / cc terms: ``P = softmax(logits_i / T_i)`` row by row;
    - the masks ``m`` / ``m_c`` are MLKD's (teacher softmax at T = 1, no
      energy involved); all quirks of :class:`MLKDLoss` are kept.

    With three equal group temperatures every factor is exactly 1 and the
    loss equals :class:`MLKDLoss` exactly.

    Args:
        low_energy_temperature (float): Group temperature of low-energy
            samples. Defaults to 6.0 (the paper's direction).
        mid_temperature (float): Group temperature of middle samples; the
            reference the factors divide by. Defaults to 4.0.
        high_energy_temperature (float): Group temperature of high-energy
            samples. Defaults to 2.0.
        energy_temperature (float): ``T_E`` of the energy score.
            Defaults to 4.0.
        low_ratio (float): Share of the low-energy group. Defaults to 0.2.
        high_ratio (float): Share of the high-energy group. Defaults to 0.2.
        temperatures (Sequence[float]): MLKD's temperature set.
            Defaults to ``(4.0, 3.0, 5.0, 2.0, 6.0)``.
        loss_weight (float): ``w_kd``. Defaults to 0.9.

    Example:
        >>> loss = EnergyMLKDLoss(6.0, 4.0, 2.0)
        >>> loss.set_thresholds(-20.0, -18.0)
        >>> s_w, s_s, t_w, t_s = torch.randn(4, 8, 100).unbind(0)
        >>> loss(s_w, s_s, t_w, t_s)
    """

    #: What the distiller passes to ``forward``.
    distill_inputs = ('student_weak', 'student_strong', 'teacher_weak',
                      'teacher_strong')

    def __init__(self,
                 low_energy_temperature: float = 6.0,
                 mid_temperature: float = 4.0,
                 high_energy_temperature: float = 2.0,
                 energy_temperature: float = 4.0,
                 low_ratio: float = 0.2,
                 high_ratio: float = 0.2,
                 temperatures: Sequence[float] = (4.0, 3.0, 5.0, 2.0, 6.0),
                 loss_weight: float = 0.9):
        super().__init__(low_energy_temperature, mid_temperature,
                         high_energy_temperature, energy_temperature,
                         low_ratio, high_ratio, loss_weight)
        self.temperatures = check_temperature_set(temperatures)

    def forward(self,
                student_weak: Tensor,
                student_strong: Tensor,
                teacher_weak: Tensor,
                teacher_strong: Tensor,
                energies: Optional[Tensor] = None) -> Tensor:
        """Compute the weighted loss.

        Args:
            student_weak (Tensor): Student logits of the weak view, (B, C).
            student_strong (Tensor): Student logits of the strong view.
            teacher_weak (Tensor): Teacher logits of the weak view; they
                decide the energy groups.
            teacher_strong (Tensor): Teacher logits of the strong view.
            energies (Tensor, optional): The energies of ``teacher_weak`` at
                ``energy_temperature``, when the caller computed them
                already (the distiller does, once per step).

        Returns:
            Tensor: A float32 scalar, already multiplied by ``loss_weight``.
        """
        check_view_logits(student_weak, student_strong, teacher_weak,
                          teacher_strong)
        # the weak view's finiteness: checked where the energies are computed
        check_finite_logits(teacher_strong)
        scale = self.sample_temperatures(teacher_weak,
                                         energies) / self.mid_temperature
        bracket = mlkd_bracket(student_weak, student_strong, teacher_weak,
                               teacher_strong, self.temperatures, scale)
        return self.loss_weight * bracket

    def extra_repr(self) -> str:
        return (super().extra_repr() + f', temperatures={self.temperatures}, '
                f'loss_weight={self.loss_weight}')
