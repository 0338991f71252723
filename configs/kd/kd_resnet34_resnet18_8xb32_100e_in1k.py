# Vanilla KD baseline: ResNet-34 -> ResNet-18 on ImageNet, 100 epochs.
# mmrazor's recipe (tau 1, KD weight 3) reports 71.81 top-1 with this teacher.
_base_ = [
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256_100e.py',
    '../_base_/models/resnet34_resnet18_in1k.py'
]

model = dict(
    distill_losses=dict(
        loss_kd=dict(type='KDLoss', temperature=1.0, loss_weight=3.0)))
