# DKD baseline: ResNet-34 -> ResNet-18 on ImageNet, 100 epochs (MMPretrain's
# resnet34_8xb32_in1k teaches its resnet18_8xb32_in1k). ImageNet DKD recipe
# (mdistiller / mmrazor): tau 1, alpha 1, beta 0.5, CE weight 1, linear
# warm-up of the DKD term over the first epoch.
_base_ = [
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256_100e.py', '../_base_/distill/dkd.py'
]

teacher_ckpt = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet34_8xb32_in1k_20210831-f257d4e6.pth'  # noqa: E501
model = dict(
    student='mmpretrain::resnet/resnet18_8xb32_in1k.py',
    teacher='mmpretrain::resnet/resnet34_8xb32_in1k.py',
    teacher_ckpt=teacher_ckpt,
    distill_losses=dict(loss_dkd=dict(beta=0.5, temperature=1.0)),
    loss_warmup_epochs=dict(loss_dkd=1))
