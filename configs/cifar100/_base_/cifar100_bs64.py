# CIFAR-100 as in the CRD / mdistiller zoo: MMPretrain's CIFAR100 dataset,
# random crop 32 with padding 4 and horizontal flip, the zoo's normalisation
# (mean 0.5071 / 0.4867 / 0.4408, std 0.2675 / 0.2565 / 0.2761), batch 64 on
# one GPU, seed 42 (the release's).
_base_ = [
    'mmpretrain::_base_/datasets/cifar100_bs16.py',
    'mmpretrain::_base_/default_runtime.py'
]

custom_imports = dict(imports=['mmenergykd'], allow_failed_imports=False)

data_preprocessor = dict(
    num_classes=100,
    mean=[129.3105, 124.1085, 112.404],
    std=[68.2125, 65.4075, 70.4055],
    to_rgb=False)

train_dataloader = dict(batch_size=64, num_workers=4)
val_dataloader = dict(batch_size=64, num_workers=4)
test_dataloader = val_dataloader

randomness = dict(seed=42)
# The release reports the best test accuracy over epochs; keep it.
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook', interval=10, save_best='auto',
        max_keep_ckpts=2))
