# Copyright (c) mmenergykd contributors. All rights reserved.
from .dkd_loss import DKDLoss
from .energy import (EnergyTemperatureMixin, assign_energy_groups,
                     energy_score, sorted_index_thresholds)
from .energy_dkd_loss import EnergyDKDLoss
from .energy_kd_loss import EnergyKDLoss
from .functional import per_sample_dkd, per_sample_kd
from .kd_loss import KDLoss

__all__ = [
    'energy_score', 'sorted_index_thresholds', 'assign_energy_groups',
    'EnergyTemperatureMixin', 'per_sample_kd', 'per_sample_dkd', 'KDLoss',
    'DKDLoss', 'EnergyKDLoss', 'EnergyDKDLoss'
]
