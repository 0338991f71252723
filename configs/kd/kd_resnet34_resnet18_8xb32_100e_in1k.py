# KD baseline: ResNet-34 -> ResNet-18 on ImageNet, 100 epochs; MMPretrain's
# resnet34_8xb32_in1k (its OpenMMLab checkpoint, 73.62 top-1) teaches its
# resnet18_8xb32_in1k. ImageNet recipe (mmrazor's): tau 1, KD weight 3, CE 1;
# mmrazor reports 71.81 top-1 with this teacher.
_base_ = [
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256_100e.py', '../_base_/distill/kd.py'
]

teacher_ckpt = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet34_8xb32_in1k_20210831-f257d4e6.pth'  # noqa: E501
model = dict(
    student='mmpretrain::resnet/resnet18_8xb32_in1k.py',
    teacher='mmpretrain::resnet/resnet34_8xb32_in1k.py',
    teacher_ckpt=teacher_ckpt,
    student_loss_weight=1.0,
    distill_losses=dict(loss_kd=dict(temperature=1.0, loss_weight=3.0)))
