# Teacher and student for the digits benchmark, both CIFAR-style ResNets
# (mmenergykd's `CifarResNet`: a 3x3 stem and three stages of basic blocks,
# strides 1 / 2 / 2) followed by global average pooling and a linear head.
#
# teacher: resnet20 widths, 3 blocks per stage, 16-32-64 channels
#          (about 0.27 M parameters);
# student: depth 8 (1 block per stage) at 3/8 of the width, 6-12-24
#          channels (about 11 k parameters): clearly weaker on its own.
teacher_model = dict(
    type='ImageClassifier',
    backbone=dict(type='CifarResNet', arch='resnet20'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))

student_model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='CifarResNet', arch=dict(depth=8, widths=(6, 6, 12, 24))),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=24,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))
