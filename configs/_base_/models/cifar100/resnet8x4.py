# CIFAR-100 (32x32) CIFAR ResNet, 4x wider; CRD / mdistiller zoo: resnet8x4.
# Zoo weights: tools/convert_mdistiller_ckpt.py SRC DST --model resnet8x4
# The backbone types are registered by `mmenergykd`; importing it here lets
# plain MMPretrain (mmpretrain.get_model / init_model, its tools/train.py)
# build this config directly.
custom_imports = dict(imports=['mmenergykd'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='CifarResNet', arch='resnet8x4'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=256,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ))
