# Copyright (c) mmenergykd contributors. All rights reserved.
from .export import (export_student, registering_modules, student_config,
                     student_config_path)

__all__ = [
    'export_student', 'student_config', 'student_config_path',
    'registering_modules'
]
