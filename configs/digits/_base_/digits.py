# sklearn's bundled handwritten digits (real data, nothing downloaded),
# upscaled 8x8 -> 16x16, with a fixed stratified 50 / 50 split:
# 898 training and 899 held-out ('val') images. Schedule, runtime and
# evaluation shared by the teacher, the student alone and every distiller.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmenergykd'], allow_failed_imports=False)

# Input size: 8x8 upscaled x2 (bilinear, once at load time) to 16x16; two
# stride-2 stages of the CIFAR ResNets leave a 4x4 map.
scale_factor = 2
img_size = 8 * scale_factor

dataset_type = 'SklearnDigits'
data_preprocessor = dict(
    num_classes=10,
    # pixel mean / std of the whole set (0..16 scaled to 0..255)
    mean=[77.84, 77.84, 77.84],
    std=[95.89, 95.89, 95.89],
    to_rgb=False)

# Small shifts only: flips would turn some digits into others.
train_pipeline = [
    dict(type='RandomCrop', crop_size=img_size, padding=2),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    dataset=dict(
        type=dataset_type,
        split='train',
        val_ratio=0.5,
        split_seed=0,
        scale_factor=scale_factor,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    dataset=dict(
        type=dataset_type,
        split='val',
        val_ratio=0.5,
        split_seed=0,
        scale_factor=scale_factor,
        pipeline=test_pipeline,
        test_mode=True),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))
# No separate test split: the held-out split serves both.
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# SGD as in the CIFAR recipes (momentum 0.9, wd 5e-4, lr 0.05 for batch 64),
# cosine decay over the run.
max_epochs = 30
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True))
param_scheduler = dict(
    type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, eta_min=0.0)
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
