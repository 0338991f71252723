# CIFAR-100 (32x32) Wide ResNet; CRD / mdistiller zoo: wrn_40_1.
# Zoo weights: tools/convert_mdistiller_ckpt.py SRC DST --model wrn_40_1
# The backbone types are registered by `mmenergykd`; importing it here lets
# plain MMPretrain (mmpretrain.get_model / init_model, its tools/train.py)
# build this config directly.
custom_imports = dict(imports=['mmenergykd'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='CifarWideResNet', arch='wrn_40_1'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ))
