# The CRD / mdistiller CIFAR-100 schedule (KD, DKD, HE-DA and the teachers of
# the Energy KD release): 240 epochs, SGD lr 0.05, momentum 0.9, weight decay
# 5e-4, lr x0.1 at 150, 180 and 210; seed 42 (the release's). It includes the
# runtime, so a config lists it next to a dataset base only.
_base_ = ['../default_runtime.py']

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[150, 180, 210], gamma=0.1)
# Exact resume: ResumableEpochBasedTrainLoop seeds the global random
# generators before every batch from (seed, rank, epoch, batch) and skips the
# trained batches of a partial epoch, so `--resume` (ours or MMPretrain's
# tools/train.py) continues exactly where a run stopped.
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=240, val_interval=1)
val_cfg = dict()
test_cfg = dict()

# The release reports the best test accuracy over epochs; keep it.
default_hooks = dict(
    checkpoint=dict(interval=10, save_best='auto', max_keep_ckpts=2))
randomness = dict(seed=42)
