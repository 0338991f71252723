# The DeiT recipe's ImageNet data: MMPretrain's imagenet_bs64_swin_224 base
# (RandomResizedCrop and resize with PIL's bicubic, RandAugment, Random
# Erasing) at 256 images per GPU (4 GPUs: 1024), with batch Mixup 0.8 /
# CutMix 1.0. MMPretrain's DeiT configs put Mixup / CutMix in the model's
# train_cfg; a distiller applies its data preprocessor's batch augments, so
# that teacher and student see the same mixed images.
#
# Training workers restart each epoch: persistent workers would carry random
# state across epochs that no checkpoint holds (exact resume), and
# MMPretrain's tools/train.py defaults to persistent_workers=True.
_base_ = ['mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py']

data_preprocessor = dict(
    num_classes=1000,
    batch_augments=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0)
    ]))
train_dataloader = dict(batch_size=256, persistent_workers=False)
