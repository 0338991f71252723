# MMPretrain's default runtime plus what every mmenergykd config declares
# itself, so that MMPretrain's own tools/train.py, `mim train mmenergykd` and
# our tools/train.py run the same thing (nothing is injected by a launcher).
_base_ = ['mmpretrain::_base_/default_runtime.py']

# Registers our models, losses, hooks and loops in the process that reads the
# config (MMPretrain's tools/train.py never imports mmenergykd itself).
custom_imports = dict(imports=['mmenergykd'], allow_failed_imports=False)

# One run per work dir, data checked first: GuardedRunner (MMEngine's Runner
# plus) takes WORK_DIR/run.lock before it writes anything, refusing a second
# run with the first one's process id and host (a dead run's lock is
# ignored), and refuses an empty train / val / test set before the first
# step. Registered in MMPretrain's registry, hence the prefix.
runner_type = 'mmpretrain.GuardedRunner'

# Crash-safe checkpoints: AtomicCheckpointHook writes each checkpoint and
# `last_checkpoint` through a temporary file and a rename, so a run killed
# while saving never leaves a truncated "latest" checkpoint for `--resume`.
# (Exact resume, ResumableEpochBasedTrainLoop, is declared by the schedules
# in _base_/schedules/, next to max_epochs.)
#
# Teacher bank: TeacherBankHook does nothing unless `model.teacher_bank` is
# set, so `--cfg-options model.teacher_bank=BANK` is the whole switch to
# train from a bank (opened, checked against the config and against its
# checksums before the first step). A default hook, not a custom one: the
# configs' own `custom_hooks` (EnergyCalibrationHook, ...) stay as they are.
default_hooks = dict(
    checkpoint=dict(type='AtomicCheckpointHook'),
    teacher_bank=dict(type='TeacherBankHook'))

# MMEngine's LogProcessor averages only the loss and time keys over its
# window; every other scalar is logged as the value of the last step. The
# energy-group shares and the HE-DA counts are per-batch values (the last
# batch of an epoch can be tiny), so average them over the same window as the
# losses: the logged value is the mean of the last `window_size` steps.
log_processor = dict(
    window_size=10,
    custom_cfg=[
        dict(data_src='energy_low', method_name='mean', window_size=10),
        dict(data_src='energy_mid', method_name='mean', window_size=10),
        dict(data_src='energy_high', method_name='mean', window_size=10),
        dict(data_src='heda_num', method_name='mean', window_size=10),
        dict(data_src='heda_share', method_name='mean', window_size=10),
    ])
