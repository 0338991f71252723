# Copyright (c) mmenergykd contributors. All rights reserved.
from typing import Optional

from torch import Tensor

from mmenergykd.registry import MODELS
from mmenergykd.utils.validation import (check_labels, check_logits,
                                         check_non_negative)
from ..energy import EnergyTemperatureLoss
from .functional import per_sample_dkd

__all__ = ['EnergyDKDLoss']


@MODELS.register_module()
class EnergyDKDLoss(EnergyTemperatureLoss):
    """Energy DKD: DKD with the per-sample temperature of Energy KD.

    Both DKD terms use the sample's energy-group temperature ``T_i`` and are
    scaled by ``T_i^2`` per sample before the batch mean. Temperature
    settings as in :class:`EnergyKDLoss` (paper direction by default);
    alpha / beta as in :class:`DKDLoss`. The release uses ratios 0.1 / 0.1
    for Energy DKD.

    Args:
        alpha (float): Weight of target-class KD. Defaults to 1.0.
        beta (float): Weight of non-target-class KD. Defaults to 8.0.
        low_energy_temperature (float): Defaults to 6.0.
        mid_temperature (float): Defaults to 4.0.
        high_energy_temperature (float): Defaults to 2.0.
        energy_temperature (float): ``T_E``. Defaults to 4.0.
        low_ratio (float): Defaults to 0.2.
        high_ratio (float): Defaults to 0.2.
        loss_weight (float): Defaults to 1.0.
        temperature (float, optional): :class:`DKDLoss`'s name for the base
            temperature, accepted as ``mid_temperature`` (the middle-energy
            group's, the same in both temperature directions), so a
            ``DKDLoss`` config turns into an ``EnergyDKDLoss`` one by adding
            the energy settings. Giving both with different values is an
            error.
    """

    #: What ``EnergyKDDistiller`` passes to ``forward``.
    distill_inputs = ('student_logits', 'teacher_logits', 'gt_labels')

    def __init__(self,
                 alpha: float = 1.0,
                 beta: float = 8.0,
                 low_energy_temperature: float = 6.0,
                 mid_temperature: float = 4.0,
                 high_energy_temperature: float = 2.0,
                 energy_temperature: float = 4.0,
                 low_ratio: float = 0.2,
                 high_ratio: float = 0.2,
                 loss_weight: float = 1.0,
                 temperature: Optional[float] = None):
        if temperature is not None:
            if mid_temperature not in (4.0, temperature):
                raise ValueError(
                    f'EnergyDKDLoss got `temperature={temperature!r}` and '
                    f'`mid_temperature={mid_temperature!r}`, two names for '
                    'the same (middle-energy) temperature: set only one.')
            mid_temperature = temperature
        check_non_negative('alpha', alpha)
        check_non_negative('beta', beta)
        super().__init__(low_energy_temperature, mid_temperature,
                         high_energy_temperature, energy_temperature,
                         low_ratio, high_ratio, loss_weight)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def forward(self,
                student_logits: Tensor,
                teacher_logits: Tensor,
                gt_labels: Tensor,
                energies: Optional[Tensor] = None) -> Tensor:
        """Compute the weighted loss (no warm-up).

        Args:
            student_logits (Tensor): Shape (B, C).
            teacher_logits (Tensor): Shape (B, C).
            gt_labels (Tensor): Class indices of shape (B,).
            energies (Tensor, optional): The teacher's energies at
                ``energy_temperature``, when the caller computed them
                already (``EnergyKDDistiller`` does, once per step).

        Returns:
            Tensor: A float32 scalar, already multiplied by ``loss_weight``.
        """
        # finiteness: checked where the energies are computed
        check_logits(student_logits, teacher_logits, check_finite=False)
        check_labels(gt_labels, student_logits)
        temperatures = self.sample_temperatures(teacher_logits, energies)
        per_sample = per_sample_dkd(student_logits, teacher_logits, gt_labels,
                                    temperatures, self.alpha, self.beta)
        return self.loss_weight * per_sample.mean()
