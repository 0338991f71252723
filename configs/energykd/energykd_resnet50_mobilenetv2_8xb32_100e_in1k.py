# Energy KD, paper direction: ResNet-50 (OpenMMLab, 76.55 top-1) ->
# MobileNetV2 (MMPretrain's mobilenet_v2_1x) on ImageNet, on the same
# 100-epoch schedule as the ResNet-34 -> ResNet-18 configs. Temperatures as in
# res34_res18_in1k.py.
_base_ = [
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256_100e.py'
]

teacher_ckpt = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth'  # noqa: E501

model = dict(
    type='EnergyKDDistiller',
    student=dict(
        type='ImageClassifier',
        backbone=dict(type='MobileNetV2', widen_factor=1.0),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=1000,
            in_channels=1280,
            loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
            topk=(1, 5))),
    teacher=dict(
        type='ImageClassifier',
        backbone=dict(
            type='ResNet',
            depth=50,
            num_stages=4,
            out_indices=(3, ),
            style='pytorch'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=1000,
            in_channels=2048,
            loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
            topk=(1, 5))),
    teacher_ckpt=teacher_ckpt,
    student_loss_weight=1.0,
    distill_losses=dict(
        loss_energykd=dict(
            type='EnergyKDLoss',
            low_energy_temperature=1.5,
            mid_temperature=1.0,
            high_energy_temperature=0.5,
            energy_temperature=4.0,
            low_ratio=0.2,
            high_ratio=0.2,
            loss_weight=3.0)))

custom_hooks = [dict(type='EnergyCalibrationHook')]
