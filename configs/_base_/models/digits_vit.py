# The ViT students of the heterogeneous digits setting: MMPretrain's
# VisionTransformer, a few small layers (32-dimensional tokens, 4 layers,
# 2 heads, MLP 64: about 8.5 k parameters per layer) on 8 px patches of the
# 32 px digits (16 patches). `vit_student` has a class token only (trained
# alone on the labels), `deit_student` a distillation token too
# (DistilledVisionTransformer + DeiTClsHead: the class token learns from the
# labels, the distillation token from the teacher; it predicts with the
# average of both heads). Initialised as MMPretrain's DeiT configs.
arch = dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)
init_cfg = [
    dict(type='TruncNormal', layer='Linear', std=.02),
    dict(type='Constant', layer='LayerNorm', val=1., bias=0.),
]
vit_student = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer', arch=arch, img_size=32, patch_size=8),
    neck=None,
    head=dict(
        type='VisionTransformerClsHead',
        num_classes=10,
        in_channels=32,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )),
    init_cfg=init_cfg)
deit_student = dict(
    type='ImageClassifier',
    backbone=dict(
        type='DistilledVisionTransformer',
        arch=arch,
        img_size=32,
        patch_size=8),
    neck=None,
    head=dict(
        type='DeiTClsHead',
        num_classes=10,
        in_channels=32,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )),
    init_cfg=init_cfg)
# The digits teacher as its own config (its data preprocessor, the set's
# mean / std, is read from it) at its own input size.
teacher_config = 'mmenergykd::cifarresnet/cifarresnet20_1xb64_60e_digits.py'
teacher_input_size = 16
