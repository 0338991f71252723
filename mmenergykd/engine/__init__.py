# Copyright (c) mmenergykd contributors. All rights reserved.
from mmenergykd.utils.seeding import seed_everything_for_step
from . import hooks
from .calibration import calibrate_energy, teacher_energies
from .calibration_policy import (all_calibrated, ensure_calibrated,
                                 unwrap_distiller)
from .hooks import *  # noqa: F401,F403
from .loops import ResumableEpochBasedTrainLoop
from .runtime import (check_epoch_settings, check_reliability,
                      find_resumable_checkpoint, setup_cpu_distributed,
                      shutdown_distributed)

__all__ = [
    'all_calibrated', 'calibrate_energy', 'ensure_calibrated',
    'teacher_energies', 'unwrap_distiller', 'ResumableEpochBasedTrainLoop',
    'seed_everything_for_step', 'check_reliability', 'check_epoch_settings',
    'find_resumable_checkpoint', 'setup_cpu_distributed',
    'shutdown_distributed'
] + hooks.__all__
