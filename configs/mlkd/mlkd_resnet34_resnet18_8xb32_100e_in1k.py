# MLKD (Jin et al., CVPR 2023): ResNet-34 -> ResNet-18 on ImageNet, 100
# epochs (MMPretrain's resnet34_8xb32_in1k teaches its resnet18_8xb32_in1k).
# Loss as the official MLKD code computes it (MLKDLoss, method.md section 6),
# label loss on both views.
# Recipe: the MLKD code's ImageNet config for this pair
# (configs/imagenet/r34_r18/kd_ours.yaml of the MLKD code base, as carried by
# its fork sunshangquan/logit-standardization-KD): KD_ours with
# KD.TEMPERATURE 1, so the instance temperatures are (1, 3, 5, 2, 6) (the
# first one is the configured temperature, the others fixed in the code),
# CE_WEIGHT 0.5, KD_WEIGHT 0.5, SGD lr 0.1 at batch 512, momentum 0.9, wd
# 1e-4, 100 epochs, steps 30 / 60 / 90. The schedule here is the one of our
# other ImageNet configs (batch 8 x 32 = 256, lr 0.1, the same steps; add
# --auto-scale-lr to scale the lr with the batch). Compare with the MLKD
# paper's 71.90.
_base_ = [
    '../_base_/datasets/imagenet_mlkd_bs32.py',
    '../_base_/schedules/imagenet_bs256_100e.py', '../_base_/distill/mlkd.py'
]

teacher_ckpt = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet34_8xb32_in1k_20210831-f257d4e6.pth'  # noqa: E501
model = dict(
    student='mmpretrain::resnet/resnet18_8xb32_in1k.py',
    teacher='mmpretrain::resnet/resnet34_8xb32_in1k.py',
    teacher_ckpt=teacher_ckpt,
    student_loss_weight=0.5,
    distill_losses=dict(
        loss_mlkd=dict(
            temperatures=(1.0, 3.0, 5.0, 2.0, 6.0), loss_weight=0.5)))
