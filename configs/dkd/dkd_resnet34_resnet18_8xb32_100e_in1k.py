# DKD baseline: ResNet-34 -> ResNet-18 on ImageNet, 100 epochs.
# ImageNet DKD recipe (mdistiller / mmrazor): tau 1, alpha 1, beta 0.5, CE
# weight 1, linear warm-up of the DKD term over the first epoch.
_base_ = [
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256_100e.py',
    '../_base_/models/resnet34_resnet18_in1k.py'
]

model = dict(
    distill_losses=dict(
        loss_dkd=dict(
            type='DKDLoss',
            alpha=1.0,
            beta=0.5,
            temperature=1.0,
            loss_weight=1.0)),
    loss_warmup_epochs=dict(loss_dkd=1))
