# sklearn's bundled handwritten digits (real data, nothing downloaded),
# upscaled 8x8 -> 16x16, with a fixed stratified 50 / 50 split:
# 898 training and 899 held-out ('val') images.

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

# The data sit in memory: no worker processes. PyTorch refuses
# persistent_workers without workers, and MMPretrain's tools/train.py turns
# persistent_workers on unless the config says otherwise: say it.
train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
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
    persistent_workers=False,
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
