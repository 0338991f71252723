# Copyright (c) mmenergykd contributors. All rights reserved.
from .high_energy_augment import HighEnergyAugment, cutmix_box

__all__ = ['HighEnergyAugment', 'cutmix_box']
