# Copyright (c) mmenergykd contributors. All rights reserved.
"""Where the energy core used to live; it is :mod:`mmenergykd.models.energy`.

Kept so that imports written against earlier releases
(``from mmenergykd.models.losses.energy import energy_score``) keep working.
"""
from ..energy import (HIGH, LOW, MID, EnergyConsumer, EnergyTemperatureMixin,
                      assign_energy_groups, energy_score, group_shares,
                      sorted_index_thresholds)

__all__ = [
    'LOW', 'MID', 'HIGH', 'energy_score', 'sorted_index_thresholds',
    'assign_energy_groups', 'group_shares', 'EnergyConsumer',
    'EnergyTemperatureMixin'
]
