# Copyright (c) mmenergykd contributors. All rights reserved.
"""Datasets registered by mmenergykd."""
from .cifar100_lt import CIFAR100LT
from .digits import SklearnDigits
from .sample_errors import SampleLoadError, name_sample_errors
from .transforms import ViewRandomCrop, ViewRandomFlip, recording_pipeline
from .wrappers import innermost_dataset

__all__ = [
    'CIFAR100LT', 'SklearnDigits', 'ViewRandomCrop', 'ViewRandomFlip',
    'recording_pipeline', 'SampleLoadError', 'name_sample_errors',
    'innermost_dataset'
]
