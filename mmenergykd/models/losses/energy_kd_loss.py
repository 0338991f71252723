# Copyright (c) mmenergykd contributors. All rights reserved.
from typing import Optional

from torch import Tensor

from mmenergykd.registry import MODELS
from mmenergykd.utils.validation import check_logits
from ..energy import EnergyTemperatureLoss
from .functional import per_sample_kd

__all__ = ['EnergyKDLoss']


@MODELS.register_module()
class EnergyKDLoss(EnergyTemperatureLoss):
    """Energy KD: vanilla KD with a per-sample, energy-chosen temperature.

    Each sample's temperature comes from the teacher's energy group (see
    :func:`energy_score`): ``E < tau_low`` low, ``E > tau_high`` high,
    otherwise middle. ``T_i^2`` is applied per sample before the batch mean:
    ``loss_weight * mean_i[T_i^2 * KL(softmax(t_i/T_i) || softmax(s_i/T_i))]``.

    The temperatures are named by energy group, so both directions are
    explicit. The defaults follow the paper's text (low-energy, confident
    samples get the *higher* temperature): 6 / 4 / 2. The authors' release
    uses the opposite direction, 2 / 4 / 6. With three equal temperatures
    the loss is exactly :class:`KDLoss`.

    Args:
        low_energy_temperature (float): Temperature of low-energy samples.
            Defaults to 6.0.
        mid_temperature (float): Temperature of middle samples.
            Defaults to 4.0.
        high_energy_temperature (float): Temperature of high-energy samples.
            Defaults to 2.0.
        energy_temperature (float): ``T_E`` of the energy score.
            Defaults to 4.0.
        low_ratio (float): Share of the low-energy group. Defaults to 0.2.
        high_ratio (float): Share of the high-energy group. Defaults to 0.2.
        loss_weight (float): Weight of the loss. Defaults to 1.0.

    Example:
        >>> loss = EnergyKDLoss(6.0, 4.0, 2.0, loss_weight=0.9)
        >>> loss.set_thresholds(-10.0, -8.0)
        >>> loss(torch.randn(8, 100), torch.randn(8, 100))
    """

    #: What ``EnergyKDDistiller`` passes to ``forward``.
    distill_inputs = ('student_logits', 'teacher_logits')

    def __init__(self,
                 low_energy_temperature: float = 6.0,
                 mid_temperature: float = 4.0,
                 high_energy_temperature: float = 2.0,
                 energy_temperature: float = 4.0,
                 low_ratio: float = 0.2,
                 high_ratio: float = 0.2,
                 loss_weight: float = 1.0):
        super().__init__(low_energy_temperature, mid_temperature,
                         high_energy_temperature, energy_temperature,
                         low_ratio, high_ratio, loss_weight)

    def forward(self,
                student_logits: Tensor,
                teacher_logits: Tensor,
                energies: Optional[Tensor] = None) -> Tensor:
        """Compute the weighted loss.

        Args:
            student_logits (Tensor): Shape (B, C).
            teacher_logits (Tensor): Shape (B, C).
            energies (Tensor, optional): The teacher's energies at
                ``energy_temperature``, when the caller computed them
                already (``EnergyKDDistiller`` does, once per step).

        Returns:
            Tensor: A float32 scalar, already multiplied by ``loss_weight``.
        """
        # finiteness: checked where the energies are computed
        check_logits(student_logits, teacher_logits, check_finite=False)
        temperatures = self.sample_temperatures(teacher_logits, energies)
        per_sample = per_sample_kd(student_logits, teacher_logits,
                                   temperatures)
        return self.loss_weight * per_sample.mean()
