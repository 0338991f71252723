# Copyright (c) mmenergykd contributors. All rights reserved.
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .energy_calibration_hook import EnergyCalibrationHook
from .high_energy_augment_hook import HighEnergyAugmentHook

__all__ = [
    'AtomicCheckpointHook', 'EnergyCalibrationHook', 'HighEnergyAugmentHook'
]
