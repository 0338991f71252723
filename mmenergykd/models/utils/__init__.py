# Copyright (c) mmenergykd contributors. All rights reserved.
from .model_config import build_classifier, resolve_model_cfg
from .model_source import (ModelSource, resolve_model_source,
                           resolve_teacher_checkpoint, zoo_download_errors,
                           zoo_model)
from .preprocess_spec import ModelPreprocess, preprocess_from_module
from .student_heads import (HEAD_KEY, StudentHeads, check_head_targets,
                            pop_head_targets, student_heads_for)
from .teacher_checkpoint import (compare_state_dicts, extract_state_dict,
                                 load_teacher_checkpoint)
from .teacher_input import TeacherInputAdapter, resolve_teacher_preprocess
from .teacher_input_setup import build_teacher_input, teacher_input_record

__all__ = [
    'build_classifier', 'resolve_model_cfg', 'compare_state_dicts',
    'extract_state_dict', 'load_teacher_checkpoint', 'ModelSource',
    'resolve_model_source', 'zoo_model', 'resolve_teacher_checkpoint',
    'zoo_download_errors', 'ModelPreprocess', 'preprocess_from_module',
    'HEAD_KEY', 'StudentHeads', 'check_head_targets', 'pop_head_targets',
    'student_heads_for', 'TeacherInputAdapter', 'build_teacher_input',
    'resolve_teacher_preprocess', 'teacher_input_record'
]
