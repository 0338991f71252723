# Copyright (c) mmenergykd contributors. All rights reserved.
"""The energy core: the score, the threshold rule, the consumer base."""
from .consumer import EnergyConsumer, step_energies
from .score import (HIGH, LOW, MID, assign_energy_groups, energy_score,
                    energy_thresholds, group_shares, sorted_index_thresholds,
                    uncrossed_thresholds)
from .temperature import EnergyTemperatureLoss

__all__ = [
    'LOW', 'MID', 'HIGH', 'energy_score', 'energy_thresholds',
    'sorted_index_thresholds', 'uncrossed_thresholds', 'assign_energy_groups',
    'group_shares', 'EnergyConsumer', 'step_energies', 'EnergyTemperatureLoss'
]
