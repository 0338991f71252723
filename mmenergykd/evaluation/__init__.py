# Copyright (c) mmenergykd contributors. All rights reserved.
from .metrics import EnergyGroupAccuracy

__all__ = ['EnergyGroupAccuracy']
