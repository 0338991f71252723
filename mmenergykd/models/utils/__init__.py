# Copyright (c) mmenergykd contributors. All rights reserved.
from .model_config import build_classifier, resolve_model_cfg
from .teacher_checkpoint import (compare_state_dicts, extract_state_dict,
                                 load_teacher_checkpoint)

__all__ = [
    'build_classifier', 'resolve_model_cfg', 'compare_state_dicts',
    'extract_state_dict', 'load_teacher_checkpoint'
]
