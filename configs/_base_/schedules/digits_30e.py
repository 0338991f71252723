# The digits benchmark's schedule, shared by the student alone and every
# distiller: SGD as in the CIFAR recipes (momentum 0.9, wd 5e-4, lr 0.05 for
# batch 64, Nesterov), cosine decay over 30 epochs, seed 0. It includes the
# runtime, so a config lists it next to a dataset base only.
_base_ = ['../default_runtime.py']

max_epochs = 30
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True))
param_scheduler = dict(
    type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, eta_min=0.0)
# Exact resume (see _base_/schedules/cifar100_bs64_240e.py).
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0, deterministic=False)
