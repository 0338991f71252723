# Copyright (c) mmenergykd contributors. All rights reserved.
from mmenergykd.utils.seeding import seed_everything_for_step
from . import hooks
from .calibration import calibrate_energy, teacher_energies
from .calibration_policy import (all_calibrated, ensure_calibrated,
                                 unwrap_distiller)
from .data_checks import EmptyDataError, check_loop_data
from .hooks import *  # noqa: F401,F403
from .loops import ResumableEpochBasedTrainLoop
from .runner import GuardedRunner
from .runtime import (check_epoch_settings, check_reliability,
                      find_resumable_checkpoint, last_complete_checkpoint,
                      resume_command, setup_cpu_distributed,
                      shutdown_distributed)
from .work_dir_lock import WorkDirBusyError, hold_work_dir

__all__ = [
    'all_calibrated', 'calibrate_energy', 'ensure_calibrated',
    'teacher_energies', 'unwrap_distiller', 'ResumableEpochBasedTrainLoop',
    'seed_everything_for_step', 'check_reliability', 'check_epoch_settings',
    'find_resumable_checkpoint', 'setup_cpu_distributed',
    'shutdown_distributed', 'EmptyDataError', 'check_loop_data',
    'GuardedRunner', 'last_complete_checkpoint', 'resume_command',
    'WorkDirBusyError', 'hold_work_dir'
] + hooks.__all__
