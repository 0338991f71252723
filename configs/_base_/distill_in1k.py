# ImageNet data, the 100-epoch schedule (SGD lr 0.1 for batch 256, steps at
# 30 / 60 / 90, wd 1e-4) and the default runtime, all from MMPretrain.
# Batch 32 per GPU x 8 GPUs = 256 in total; MMEngine's `auto_scale_lr`
# (base_batch_size=256) rescales the lr for other totals with --auto-scale-lr.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]

custom_imports = dict(imports=['mmenergykd'], allow_failed_imports=False)

# Reliability (see the README, "Reliability guarantees"):
# - ResumableEpochBasedTrainLoop seeds the global random generators before
#   every batch from (seed, rank, epoch, batch) and skips the trained batches
#   of a partial epoch, so `--resume` continues exactly where a run stopped;
# - AtomicCheckpointHook writes checkpoints and `last_checkpoint` through a
#   temporary file + rename, so a run killed while saving never leaves a
#   truncated "latest" checkpoint;
# - dataloader workers restart each epoch (seeded by MMEngine from seed,
#   rank and worker id): persistent workers carry random state across epochs
#   that no checkpoint can hold.
# tools/train.py applies the first two to any config that does not name its
# own loop / checkpoint hook.
train_cfg = dict(
    _delete_=True,
    type='ResumableEpochBasedTrainLoop',
    max_epochs=100,
    val_interval=1)
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
train_dataloader = dict(persistent_workers=False)
