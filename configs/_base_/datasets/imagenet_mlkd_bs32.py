# ImageNet with two views per training image, as the official MLKD code
# trains: weak = MMPretrain's RandomResizedCrop 224 + flip (the plain
# ImageNet training pipeline); strong = the same (drawn independently) + the
# MLKD RandAugment (mlkd_strong_augment.py) + a Cutout of up to half the side.
# The image is loaded once, then `MultiView` makes the views and
# `MultiViewClsDataPreprocessor` gives `inputs = [weak, strong]`, two
# (B, 3, 224, 224) tensors, with one data sample per image. Validation /
# test: single images, as in imagenet_bs32.py.
_base_ = ['./imagenet_bs32.py', './mlkd_strong_augment.py']

data_preprocessor = dict(type='MultiViewClsDataPreprocessor')

weak_pipeline = [
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
# The official Cutout (int(v) + 1 pixels, v ~ U(0, 112), filled with RGB
# (125, 123, 114)); LoadImageFromFile gives BGR, hence the reversed colour.
mlkd_cutout = dict(
    type='Cutout',
    magnitude_range=(1, 113),
    magnitude_std='inf',
    prob=1.0,
    pad_val=(114, 123, 125))
strong_pipeline = weak_pipeline + [{{_base_.mlkd_rand_augment}}, mlkd_cutout]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiView',
        num_views=[1, 1],
        transforms=[weak_pipeline, strong_pipeline]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
