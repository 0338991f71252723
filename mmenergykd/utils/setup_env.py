# Copyright (c) mmenergykd contributors. All rights reserved.
"""Registry setup, and the one mmcv-lite warning that does not apply."""
import importlib
import warnings

__all__ = ['register_all_modules', 'silence_mmcv_lite_warning']

#: mmcv's warning (``mmcv/cnn/bricks/transformer.py``) when its compiled
#: ``MultiScaleDeformableAttention`` cannot be imported.
MMCV_LITE_WARNING = r'Fail to import ``MultiScaleDeformableAttention``'


def _installed(distribution: str) -> bool:
    from importlib import metadata
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def silence_mmcv_lite_warning() -> bool:
    """Hide mmcv's "install ``mmcv`` rather than ``mmcv-lite``" warning.

    ``import mmpretrain.models`` imports ``mmcv.cnn.bricks.transformer``,
    which warns that ``MultiScaleDeformableAttention`` (a compiled detection
    op) is missing whenever ``mmcv-lite`` is installed. Nothing in
    mmenergykd or in the classifiers it trains uses that op, so under
    mmcv-lite (and only then: with a full ``mmcv`` the same warning means
    its compiled ops are broken) exactly this warning, from exactly that
    module, is filtered. Every other warning is left alone.

    Returns:
        bool: Whether the filter was installed (mmcv-lite without mmcv).
    """
    if not _installed('mmcv-lite') or _installed('mmcv'):
        return False
    warnings.filterwarnings(
        'ignore',
        message=MMCV_LITE_WARNING,
        category=UserWarning,
        module=r'mmcv\.cnn\.bricks\.transformer')
    return True


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
    importlib.import_module('mmenergykd.evaluation')
