# CIFAR-100 (32x32) VGG with BN, vgg16_bn; CRD / mdistiller zoo: vgg16.
# Zoo weights: tools/convert_mdistiller_ckpt.py SRC DST --model vgg16
# The backbone types are registered by `mmenergykd`; importing it here lets
# plain MMPretrain (mmpretrain.get_model / init_model, its tools/train.py)
# build this config directly.
custom_imports = dict(imports=['mmenergykd'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='CifarVGG', arch='vgg16'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5),
    ))
