# Copyright (c) mmenergykd contributors. All rights reserved.
from .energy_calibration_hook import EnergyCalibrationHook, ensure_calibrated
from .high_energy_augment_hook import HighEnergyAugmentHook

__all__ = ['EnergyCalibrationHook', 'HighEnergyAugmentHook',
           'ensure_calibrated']
