# Copyright (c) mmenergykd contributors. All rights reserved.
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .energy_calibration_hook import EnergyCalibrationHook
from .high_energy_augment_hook import HighEnergyAugmentHook
from .teacher_bank_hook import TeacherBankHook

__all__ = [
    'AtomicCheckpointHook', 'EnergyCalibrationHook', 'HighEnergyAugmentHook',
    'TeacherBankHook'
]
