# Copyright (c) mmenergykd contributors. All rights reserved.
from . import (augments, backbones, data_preprocessors, distillers, energy,
               losses)
from .augments import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .distillers import *  # noqa: F401,F403
from .energy import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403

__all__ = (
    augments.__all__ + backbones.__all__ + data_preprocessors.__all__ +
    distillers.__all__ + energy.__all__ + losses.__all__)
