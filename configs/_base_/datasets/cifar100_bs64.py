# CIFAR-100 as in the CRD / mdistiller zoo: MMPretrain's CIFAR100 dataset,
# random crop 32 with padding 4 and horizontal flip, the zoo's normalisation
# (mean 0.5071 / 0.4867 / 0.4408, std 0.2675 / 0.2565 / 0.2761), batch 64 on
# one GPU.
_base_ = ['mmpretrain::_base_/datasets/cifar100_bs16.py']

data_preprocessor = dict(
    num_classes=100,
    mean=[129.3105, 124.1085, 112.404],
    std=[68.2125, 65.4075, 70.4055],
    to_rgb=False)

# Training workers restart each epoch (MMEngine seeds them from seed, rank and
# worker id): persistent workers would carry random state across epochs that
# no checkpoint holds, and exact resume needs it. MMPretrain's tools/train.py
# defaults to persistent_workers=True, so say it here.
train_dataloader = dict(batch_size=64, num_workers=4, persistent_workers=False)
val_dataloader = dict(batch_size=64, num_workers=4)
test_dataloader = val_dataloader
