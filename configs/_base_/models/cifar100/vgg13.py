# CIFAR-100 (32x32) VGG with BN, vgg13_bn; CRD / mdistiller zoo: vgg13.
# The backbone types are registered by `mmenergykd`: a top-level config needs
# custom_imports = dict(imports=['mmenergykd'], allow_failed_imports=False).
# Zoo weights: tools/convert_mdistiller_ckpt.py SRC DST --model vgg13
model = dict(
    type='ImageClassifier',
    backbone=dict(type='CifarVGG', arch='vgg13'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ))
