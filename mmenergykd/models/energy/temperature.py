# Copyright (c) mmenergykd contributors. All rights reserved.
"""Per-sample temperatures chosen by the teacher's energy group."""
from typing import Optional

import torch
from torch import Tensor

from mmenergykd.utils.validation import check_non_negative, check_temperature
from .consumer import EnergyConsumer

__all__ = ['EnergyTemperatureLoss']


class EnergyTemperatureLoss(EnergyConsumer):
    """Base of the energy losses: one temperature per energy group.

    The temperatures are named by energy group, so both directions of the
    method are explicit settings: the paper's text gives low-energy
    (confident) samples the *higher* temperature (e.g. 6 / 4 / 2), the
    authors' release the lower one (2 / 4 / 6).

    Args:
        low_energy_temperature (float): Temperature of low-energy samples.
        mid_temperature (float): Temperature of the middle group.
        high_energy_temperature (float): Temperature of high-energy samples.
        energy_temperature (float): ``T_E`` of the energy score.
        low_ratio (float): Share of the data in the low-energy group.
        high_ratio (float): Share of the data in the high-energy group.
        loss_weight (float): Weight of the loss.
    """

    def __init__(self, low_energy_temperature: float, mid_temperature: float,
                 high_energy_temperature: float, energy_temperature: float,
                 low_ratio: float, high_ratio: float,
                 loss_weight: float) -> None:
        super().__init__(energy_temperature, low_ratio, high_ratio)
        check_non_negative('loss_weight', loss_weight)
        self.loss_weight = float(loss_weight)
        for name, value in (('low_energy_temperature', low_energy_temperature),
                            ('mid_temperature',
                             mid_temperature), ('high_energy_temperature',
                                                high_energy_temperature)):
            check_temperature(name, value)
        self.low_energy_temperature = float(low_energy_temperature)
        self.mid_temperature = float(mid_temperature)
        self.high_energy_temperature = float(high_energy_temperature)
        self.register_buffer(
            'group_temperatures',
            torch.tensor([
                self.low_energy_temperature, self.mid_temperature,
                self.high_energy_temperature
            ]),
            persistent=False)

    def sample_temperatures(self,
                            teacher_logits: Tensor,
                            energies: Optional[Tensor] = None) -> Tensor:
        """Per-sample temperature from the teacher's energy group.

        Args:
            teacher_logits (Tensor): Teacher logits of shape (B, C).
            energies (Tensor, optional): Their energies, when already
                computed this step.

        Returns:
            Tensor: float32 temperatures of shape (B,).
        """
        groups = self.energy_groups(teacher_logits, energies)
        return self.group_temperatures.to(groups.device)[groups]

    def extra_repr(self) -> str:
        return (f'low_energy_temperature={self.low_energy_temperature}, '
                f'mid_temperature={self.mid_temperature}, '
                f'high_energy_temperature={self.high_energy_temperature}, ' +
                super().extra_repr())
