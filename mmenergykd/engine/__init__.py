# Copyright (c) mmenergykd contributors. All rights reserved.
from . import hooks
from .calibration import all_calibrated, calibrate_energy, unwrap_distiller
from .hooks import *  # noqa: F401,F403
from .loops import ResumableEpochBasedTrainLoop, seed_everything_for_step
from .runtime import (apply_reliability_defaults, check_epoch_settings,
                      find_resumable_checkpoint, setup_cpu_distributed,
                      shutdown_distributed)

__all__ = [
    'all_calibrated', 'calibrate_energy', 'unwrap_distiller',
    'ResumableEpochBasedTrainLoop', 'seed_everything_for_step',
    'apply_reliability_defaults', 'check_epoch_settings',
    'find_resumable_checkpoint', 'setup_cpu_distributed',
    'shutdown_distributed'
] + hooks.__all__
