# Copyright (c) mmenergykd contributors. All rights reserved.
"""mmenergykd: energy-based knowledge distillation for MMPretrain.

``import mmenergykd`` registers every component in MMPretrain's registries,
makes ``mmenergykd::`` config references resolve (an installed mmenergykd
does so at interpreter start, see ``utils/mim.py``), registers a
weights-only checkpoint loader with MMEngine, and, under mmcv-lite, hides
mmcv's one warning about its missing detection op.
"""
try:
    import mmcv  # noqa: F401
except ImportError as err:  # pragma: no cover
    raise ImportError(
        'mmenergykd needs the `mmcv` module: install `mmcv-lite` '
        '(pip install "mmcv-lite>=2.0.0") or keep your full `mmcv`.') from err

from .utils import (register_mim_scope, register_safe_checkpoint_loaders,
                    silence_mmcv_lite_warning)

silence_mmcv_lite_warning()  # before MMPretrain's models import mmcv.cnn
register_mim_scope()
register_safe_checkpoint_loaders()

from . import apis, datasets, engine, models  # noqa: E402
from .version import __version__  # noqa: E402

__all__ = ['__version__', 'apis', 'datasets', 'engine', 'models']
