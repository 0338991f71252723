# Copyright (c) mmenergykd contributors. All rights reserved.
from .energy_kd_distiller import EnergyKDDistiller
from .frozen_teacher import FrozenTeacher

__all__ = ['EnergyKDDistiller', 'FrozenTeacher']
