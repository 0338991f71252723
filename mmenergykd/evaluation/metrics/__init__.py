# Copyright (c) mmenergykd contributors. All rights reserved.
from .energy_group_accuracy import EnergyGroupAccuracy

__all__ = ['EnergyGroupAccuracy']
