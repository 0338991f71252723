# Copyright (c) mmenergykd contributors. All rights reserved.
"""Transforms registered by mmenergykd: teacher-view recording."""
from .view_pipeline import (DETERMINISTIC_TRANSFORMS, VIEW_META_KEYS,
                            VIEW_TRANSFORMS, recording_pipeline)
from .view_transforms import (REPLAY_KEY, ViewRandomCrop, ViewRandomFlip,
                              ViewRandomResizedCrop)

__all__ = [
    'ViewRandomCrop', 'ViewRandomFlip', 'ViewRandomResizedCrop', 'REPLAY_KEY',
    'recording_pipeline', 'VIEW_TRANSFORMS', 'DETERMINISTIC_TRANSFORMS',
    'VIEW_META_KEYS'
]
