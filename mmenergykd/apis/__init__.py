# Copyright (c) mmenergykd contributors. All rights reserved.
from .analyze_energy import analyze_energy
from .export import (export_student, registering_modules, student_config,
                     student_config_path)
from .teacher_bank import (BankBuildSettings, build_bank_shard,
                           build_teacher_bank, verify_teacher_bank)

__all__ = [
    'analyze_energy', 'export_student', 'student_config',
    'student_config_path', 'registering_modules', 'build_teacher_bank',
    'verify_teacher_bank', 'BankBuildSettings', 'build_bank_shard'
]
