# Copyright (c) mmenergykd contributors. All rights reserved.
from .checkpoint_identity import CheckpointIdentity
from .distill_losses import DistillLosses
from .energy_kd_distiller import EnergyKDDistiller
from .frozen_teacher import FrozenTeacher
from .teacher_source import TeacherSource

__all__ = [
    'EnergyKDDistiller', 'FrozenTeacher', 'TeacherSource', 'DistillLosses',
    'CheckpointIdentity'
]
