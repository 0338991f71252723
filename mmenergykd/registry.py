# Copyright (c) mmenergykd contributors. All rights reserved.
"""mmenergykd registers into MMPretrain's registries.

This module is the package's only door to them. Configs keep
``default_scope = 'mmpretrain'`` and find our components next to
MMPretrain's own, after ``custom_imports = dict(imports=['mmenergykd'])``.
"""
from mmpretrain.registry import DATASETS, HOOKS, LOOPS, MODELS, TRANSFORMS

__all__ = ['DATASETS', 'HOOKS', 'LOOPS', 'MODELS', 'TRANSFORMS']
