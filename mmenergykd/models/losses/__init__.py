# Copyright (c) mmenergykd contributors. All rights reserved.
from .dkd_loss import DKDLoss
from .energy_dkd_loss import EnergyDKDLoss
from .energy_kd_loss import EnergyKDLoss
from .energy_mlkd_loss import EnergyMLKDLoss
from .functional import per_sample_dkd, per_sample_kd
from .hard_distill_loss import HardDistillLoss
from .kd_loss import KDLoss
from .mlkd_loss import MLKDLoss

__all__ = [
    'per_sample_kd', 'per_sample_dkd', 'KDLoss', 'DKDLoss', 'EnergyKDLoss',
    'EnergyDKDLoss', 'MLKDLoss', 'EnergyMLKDLoss', 'HardDistillLoss'
]
