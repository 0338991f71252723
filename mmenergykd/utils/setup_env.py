# Copyright (c) mmenergykd contributors. All rights reserved.
"""Registry setup, so ``mmengine.hub.get_model('mmenergykd::...')`` works."""
import importlib

__all__ = ['register_all_modules']


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register MMPretrain's and mmenergykd's modules.

    mmenergykd registers its components in MMPretrain's registries, so the
    default scope stays ``mmpretrain``.

    Args:
        init_default_scope (bool): Set the default scope to ``mmpretrain``.
    """
    from mmpretrain.utils import register_all_modules as register_mmpretrain
    register_mmpretrain(init_default_scope=init_default_scope)
    importlib.import_module('mmenergykd.models')
    importlib.import_module('mmenergykd.engine')
    importlib.import_module('mmenergykd.datasets')
