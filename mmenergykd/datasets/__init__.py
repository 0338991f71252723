# Copyright (c) mmenergykd contributors. All rights reserved.
"""Datasets registered by mmenergykd."""
from .cifar100_lt import CIFAR100LT
from .digits import SklearnDigits
from .transforms import ViewRandomCrop, ViewRandomFlip, recording_pipeline

__all__ = [
    'CIFAR100LT', 'SklearnDigits', 'ViewRandomCrop', 'ViewRandomFlip',
    'recording_pipeline'
]
