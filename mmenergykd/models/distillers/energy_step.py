# Copyright (c) mmenergykd contributors. All rights reserved.
"""The energy part of a distillation step: consumers, shares, HE-DA."""
from typing import Dict, Optional

import torch
from torch import Tensor

from mmenergykd.models.energy import (HIGH, LOW, MID, EnergyConsumer,
                                      EnergyTemperatureLoss, group_shares)

__all__ = ['EnergyStepMixin']


class EnergyStepMixin:
    """What ``EnergyKDDistiller`` does with the teacher's energies.

    Expects ``distill_losses`` (an ``nn.ModuleDict``),
    ``high_energy_augment`` (a ``HighEnergyAugment`` or None),
    ``student_logits`` and ``teacher_logits`` on the class it is mixed into.
    """

    def energy_consumers(self) -> Dict[str, EnergyConsumer]:
        """Modules that need calibrated energy thresholds, by name."""
        consumers = {
            name: loss
            for name, loss in self.distill_losses.items()
            if isinstance(loss, EnergyConsumer)
        }
        if self.high_energy_augment is not None:
            consumers['high_energy_augment'] = self.high_energy_augment
        return consumers

    def energy_loss(self) -> Optional[EnergyTemperatureLoss]:
        """The first distill loss with energy-chosen temperatures."""
        for loss in self.distill_losses.values():
            if isinstance(loss, EnergyTemperatureLoss):
                return loss
        return None

    def step_energies(self, teacher_logits: Tensor) -> Dict[float, Tensor]:
        """The teacher's energies at each consumer's ``T_E``, once a step.

        Args:
            teacher_logits (Tensor): The teacher's logits (weak view).

        Returns:
            dict[float, Tensor]: ``T_E`` -> float32 energies (B,).
        """
        energies: Dict[float, Tensor] = {}
        for consumer in self.energy_consumers().values():
            if consumer.energy_temperature not in energies:
                energies[consumer.energy_temperature] = consumer.energies(
                    teacher_logits, check_finite=False)
        return energies

    def energy_shares(self, teacher_logits: Tensor,
                      energies: Dict[float, Tensor]) -> Dict[str, Tensor]:
        """Logged share of the batch in each group of the energy loss."""
        energy_loss = self.energy_loss()
        if energy_loss is None:
            return {}
        groups = energy_loss.energy_groups(
            teacher_logits, energies[energy_loss.energy_temperature])
        shares = group_shares(groups)
        return dict(
            energy_low=shares[LOW],
            energy_mid=shares[MID],
            energy_high=shares[HIGH])

    def _heda_step(self, inputs: Tensor,
                   energies: Dict[float, Tensor]) -> Dict[str, Tensor]:
        """HE-DA: select -> mix -> student and teacher on the mix -> KD."""
        heda = self.high_energy_augment
        zero = inputs.new_zeros((), dtype=torch.float32)
        if not heda.active:
            return dict(
                loss_heda=zero, heda_num=zero.clone(), heda_share=zero.clone())
        batch = inputs.shape[0]
        index = heda.select(energies[heda.energy_temperature])
        num = int(index.numel())
        loss = zero
        if num >= 2:
            mixed, _ = heda.mix(inputs[index])
            student_logits = self.student_logits(mixed)
            teacher_logits = self.teacher_logits(mixed)
            loss = heda.kd_loss(student_logits, teacher_logits,
                                self._heda_temperatures(teacher_logits))
        else:
            num = 0
        heda.count(num, batch)
        return dict(
            loss_heda=loss,
            heda_num=zero.new_tensor(float(num)),
            heda_share=zero.new_tensor(num / max(batch, 1)))

    def _heda_temperatures(self, teacher_logits: Tensor) -> Optional[Tensor]:
        """``kd_term='energy'``: the energy loss's temperatures of the mixed
        images (from their own energies); None: HE-DA's own temperature."""
        if self.high_energy_augment.kd_term != 'energy':
            return None
        energy_loss = self.energy_loss()
        if energy_loss is None:
            raise ValueError(
                "HE-DA `kd_term='energy'` needs an EnergyKDLoss, "
                'EnergyDKDLoss or EnergyMLKDLoss in `model.distill_losses`; '
                'use '
                "kd_term='kd' for KD / DKD runs.")
        return energy_loss.sample_temperatures(teacher_logits)
