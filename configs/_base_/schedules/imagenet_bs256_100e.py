# MMPretrain's ImageNet schedule (100 epochs, SGD lr 0.1 for batch 256, steps
# at 30 / 60 / 90, wd 1e-4; `auto_scale_lr` base_batch_size 256 rescales the lr
# for other totals with --auto-scale-lr) and our runtime.
_base_ = [
    'mmpretrain::_base_/schedules/imagenet_bs256.py', '../default_runtime.py'
]

# Exact resume: ResumableEpochBasedTrainLoop seeds the global random
# generators before every batch from (seed, rank, epoch, batch) and skips the
# trained batches of a partial epoch, so `--resume` (ours or MMPretrain's
# tools/train.py) continues exactly where a run stopped.
train_cfg = dict(
    _delete_=True,
    type='ResumableEpochBasedTrainLoop',
    max_epochs=100,
    val_interval=1)
