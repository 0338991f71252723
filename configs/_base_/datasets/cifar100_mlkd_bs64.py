# CIFAR-100 with two views per training image, as the official MLKD code
# trains (method.md section 6): weak = RandomCrop 32 pad 4 + flip; strong =
# the same (drawn independently) + its RandAugment (mlkd_strong_augment.py) +
# a Cutout of up to half the side. MMPretrain's `MultiView` makes the views,
# `PackInputs` packs them as a list per image, and
# `MultiViewClsDataPreprocessor` turns the batch into
# `inputs = [weak, strong]`, two (B, 3, 32, 32) tensors, with one data sample
# per image. Validation / test: single images, as in cifar100_bs64.py.
_base_ = ['./cifar100_bs64.py', './mlkd_strong_augment.py']

data_preprocessor = dict(type='MultiViewClsDataPreprocessor')

weak_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
# The official Cutout: a square of int(v) + 1 pixels, v ~ U(0, 16) (half the
# side), at a uniform centre, clipped, filled with RGB (125, 123, 114); here
# int(U(1, 17)) pixels, the same distribution (CIFAR100 images are RGB).
mlkd_cutout = dict(
    type='Cutout',
    magnitude_range=(1, 17),
    magnitude_std='inf',
    prob=1.0,
    pad_val=(125, 123, 114))
strong_pipeline = weak_pipeline + [{{_base_.mlkd_rand_augment}}, mlkd_cutout]
train_pipeline = [
    dict(
        type='MultiView',
        num_views=[1, 1],
        transforms=[weak_pipeline, strong_pipeline]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
