# Copyright (c) mmenergykd contributors. All rights reserved.
from .export import export_student, student_config

__all__ = ['export_student', 'student_config']
