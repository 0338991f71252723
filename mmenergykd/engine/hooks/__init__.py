# Copyright (c) mmenergykd contributors. All rights reserved.
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .energy_calibration_hook import EnergyCalibrationHook, ensure_calibrated
from .high_energy_augment_hook import HighEnergyAugmentHook

__all__ = [
    'AtomicCheckpointHook', 'EnergyCalibrationHook', 'HighEnergyAugmentHook',
    'ensure_calibrated'
]
