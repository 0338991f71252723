# Copyright (c) mmenergykd contributors. All rights reserved.
"""mmenergykd registers into MMPretrain's registries.

This module is the package's only door to them. Configs keep
``default_scope = 'mmpretrain'`` and find our components next to
MMPretrain's own, after ``custom_imports = dict(imports=['mmenergykd'])``.
"""
import mmpretrain.registry as mmpretrain_registry
from mmengine.registry import Registry
from mmpretrain.registry import (DATASETS, HOOKS, LOOPS, METRICS, MODELS,
                                 RUNNERS, TRANSFORMS)

__all__ = [
    'DATASETS', 'HOOKS', 'LOOPS', 'METRICS', 'MODELS', 'RUNNERS', 'TRANSFORMS'
]

# A config inheriting ``_base_ = ['mmenergykd::...']`` gets
# ``_scope_='mmenergykd'`` on the base's dicts (MMEngine's rule for package
# configs), and MMEngine then builds them from the registries of scope
# ``mmenergykd``. These empty children of MMPretrain's registries are those:
# every lookup falls through to MMPretrain's registry (and MMEngine's), where
# our components are registered, so both scopes build the same classes.
_SCOPE_CHILDREN = {
    name: Registry(registry.name, parent=registry, scope='mmenergykd')
    for name, registry in vars(mmpretrain_registry).items()
    if isinstance(registry, Registry)
}
