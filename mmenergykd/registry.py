# Copyright (c) mmenergykd contributors. All rights reserved.
"""mmenergykd registers into MMPretrain's registries.

Configs keep ``default_scope = 'mmpretrain'`` and find our components next to
MMPretrain's own, after ``custom_imports = dict(imports=['mmenergykd'])``.
"""
from mmpretrain.registry import DATASETS, HOOKS, MODELS, TRANSFORMS

__all__ = ['DATASETS', 'HOOKS', 'MODELS', 'TRANSFORMS']
