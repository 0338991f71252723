# Copyright (c) mmenergykd contributors. All rights reserved.
from .calibration import all_calibrated, calibrate_energy, unwrap_distiller
from .hooks import *  # noqa: F401,F403
from . import hooks

__all__ = ['all_calibrated', 'calibrate_energy', 'unwrap_distiller'
           ] + hooks.__all__
