# Copyright (c) mmenergykd contributors. All rights reserved.
from . import augments, backbones, distillers, losses
from .augments import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .distillers import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403

__all__ = (
    augments.__all__ + backbones.__all__ + distillers.__all__ + losses.__all__)
