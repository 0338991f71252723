# Copyright (c) mmenergykd contributors. All rights reserved.
"""Offline teacher bank: the teacher's logits per (sample, view)."""
from .bank_format import (DTYPES, build_command, describe_differences,
                          partial_path, read_header)
from .expect import (canonical_pipeline, data_preprocessor_of,
                     expect_from_config, file_sha256, teacher_checkpoint_of)
from .integrity import BankDamagedError, damaged_chunks
from .reader import TeacherBank
from .topk import encode_topk, reconstruct_logits, topk_kl
from .writer import BankWriter

__all__ = [
    'TeacherBank', 'BankWriter', 'BankDamagedError', 'expect_from_config',
    'canonical_pipeline', 'data_preprocessor_of', 'file_sha256',
    'teacher_checkpoint_of', 'DTYPES', 'build_command', 'describe_differences',
    'partial_path', 'read_header', 'damaged_chunks', 'encode_topk',
    'reconstruct_logits', 'topk_kl'
]
