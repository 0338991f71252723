# Copyright (c) mmenergykd contributors. All rights reserved.
"""The teacher input adapter of a distiller, from its settings or config.

One place decides what the teacher sees, for the distiller (every teacher
call of a step, calibration and HE-DA included) and for the teacher bank's
builder and its check of an existing bank.
"""
from typing import Mapping, Optional, Sequence, Tuple, Union

from torch import nn

from .model_source import ModelSource, resolve_model_source
from .preprocess_spec import (ModelPreprocess, preprocess_from_module,
                              preprocess_from_settings)
from .teacher_input import TeacherInputAdapter, resolve_teacher_preprocess

__all__ = ['build_teacher_input', 'train_input_size', 'teacher_input_record']

#: Training transforms that set the size of the image the student gets:
#: type -> the argument holding it.
_TRAIN_SIZES = {
    'RandomResizedCrop': 'scale',
    'ViewRandomResizedCrop': 'scale',
    'EfficientNetRandomCrop': 'scale',
    'RandomCrop': 'crop_size',
    'ViewRandomCrop': 'crop_size',
    'CenterCrop': 'crop_size',
    'EfficientNetCenterCrop': 'crop_size',
    'Resize': 'scale',
}


def _student_preprocess(preprocessor: Union[nn.Module,
                                            Mapping]) -> ModelPreprocess:
    source = 'data_preprocessor (the student\'s)'
    if isinstance(preprocessor, nn.Module):
        return preprocess_from_module(preprocessor, source)
    return preprocess_from_settings(preprocessor, source)


def build_teacher_input(teacher: Union[str, dict, ModelSource],
                        student_preprocessor: Union[nn.Module, Mapping],
                        teacher_input_size=None) -> TeacherInputAdapter:
    """The adapter from the run's batches to the teacher's own input.

    Args:
        teacher (str | dict | ModelSource): ``model.teacher`` (a model
            dict, a config, a model-index name) or its resolved source.
        student_preprocessor (nn.Module | dict): The distiller's data
            preprocessor (built, or its config).
        teacher_input_size (int | tuple, optional):
            ``model.teacher_input_size``.

    Returns:
        TeacherInputAdapter: See :mod:`.teacher_input`.
    """
    if not isinstance(teacher, ModelSource):
        teacher = resolve_model_source(teacher, 'teacher')
    student = _student_preprocess(student_preprocessor)
    return TeacherInputAdapter(
        student,
        resolve_teacher_preprocess(teacher, student, teacher_input_size))


def train_input_size(pipeline: Sequence[Mapping]) -> Optional[Tuple[int, int]]:
    """The (H, W) of the images a training pipeline gives, when fixed.

    Args:
        pipeline (list[dict]): The training pipeline.

    Returns:
        tuple[int, int] | None: The size set by its last crop / resize
        (``RandomResizedCrop``, ``RandomCrop``, ``CenterCrop``, ``Resize``
        and their view-recording forms); None when none sets it.
    """
    size = None
    for step in pipeline:
        kind = str(step.get('type', '')).split('.')[-1]
        value = step.get(_TRAIN_SIZES.get(kind, ''))
        if kind == 'ResizeEdge' or (kind == 'Resize'
                                    and step.get('keep_ratio', False)):
            size = None
        elif value is not None:
            size = (value,
                    value) if isinstance(value, int) else (int(value[1]),
                                                           int(value[0]))
    return size


def teacher_input_record(
    teacher: Union[str, dict],
    student_preprocessor: Mapping,
    teacher_input_size=None,
    train_pipeline: Sequence[Mapping] = ()
) -> Optional[dict]:
    """What a teacher bank records about the teacher's own input.

    Args:
        teacher (str | dict): ``model.teacher``.
        student_preprocessor (dict): The distiller's data preprocessor
            config.
        teacher_input_size (int | tuple, optional):
            ``model.teacher_input_size``.
        train_pipeline (list[dict]): The training pipeline (its crop size
            is the size of the batches the teacher gets).

    Returns:
        dict | None: The teacher's preprocessing (mean, std, channel
        order, size, interpolation); None when the teacher gets the
        student's batches unchanged (same preprocessing, and no size of its
        own or the size of the training crops), as every bank built before
        teachers had their own preprocessing assumed.
    """
    adapter = build_teacher_input(teacher, student_preprocessor,
                                  teacher_input_size)
    size = adapter.teacher.size
    if adapter.same_pixels and (size is None
                                or size == train_input_size(train_pipeline)):
        return None
    return adapter.teacher.header()
