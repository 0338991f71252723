# Copyright (c) mmenergykd contributors. All rights reserved.
from .energy_kd_distiller import EnergyKDDistiller

__all__ = ['EnergyKDDistiller']
