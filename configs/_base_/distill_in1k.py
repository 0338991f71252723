# ImageNet data, the 100-epoch schedule (SGD lr 0.1 for batch 256, steps at
# 30 / 60 / 90, wd 1e-4) and the default runtime, all from MMPretrain.
# Batch 32 per GPU x 8 GPUs = 256 in total; MMEngine's `auto_scale_lr`
# (base_batch_size=256) rescales the lr for other totals with --auto-scale-lr.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/schedules/imagenet_bs256.py',
    'mmpretrain::_base_/default_runtime.py',
]

custom_imports = dict(imports=['mmenergykd'], allow_failed_imports=False)
