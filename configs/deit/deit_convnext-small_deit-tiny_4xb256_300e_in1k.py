# DeiT-Tiny with a distillation token, trained with DeiT's hard distillation
# and the DeiT recipe (300 epochs, 4 x 256 images; MMPretrain's deit-tiny
# configs: AdamW, RandAugment, Random Erasing, Mixup / CutMix, label
# smoothing 0.1 on the class token). DeiT reports 74.5 top-1 (72.2 without
# distillation); MMPretrain's converted weights of that model reach 74.51.
#
# Teacher: ConvNeXt-S from MMPretrain's model zoo, named by its model-index
# name (config and published weights, 83.16 top-1, come from the name;
# `model.teacher_ckpt=FILE` overrides the weights). DeiT's teacher was a
# RegNetY-16GF (82.9 top-1, 84 M parameters, 16 GFLOPs) trained by the DeiT
# authors with DeiT's own augmentation, which MMPretrain's zoo does not have.
# ConvNeXt-S is also a convnet (DeiT found convnet teachers better than
# transformers), of about the same accuracy, with 50 M parameters and
# 8.7 GFLOPs, trained by MMPretrain with a DeiT-style recipe (AdamW,
# RandAugment, Mixup / CutMix, 300 epochs) and the same preprocessing as
# the student (ImageNet mean / std, 224 px): the teacher gets the student's
# batch unchanged.
_base_ = [
    '../_base_/datasets/imagenet_bs256_deit_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_300e.py',
    '../_base_/distill/deit.py'
]

model = dict(
    student='mmpretrain::deit/deit-tiny-distilled_4xb256_in1k.py',
    teacher='convnext-small_32xb128_in1k')
