# MMPretrain's DeiT schedule (its deit-* configs on the Swin base): 300
# epochs, AdamW lr 1e-3 for batch 1024, weight decay 0.05 but none on norms,
# biases and the position, class and distillation tokens, gradients clipped
# at norm 5, 20 linear warm-up epochs then cosine to 1e-5; `auto_scale_lr`
# base_batch_size 1024 rescales the lr for other totals with
# --auto-scale-lr. And our runtime.
_base_ = [
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../default_runtime.py'
]

optim_wrapper = dict(
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.dist_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0)
        }),
    clip_grad=dict(max_norm=5.0))

# MMPretrain's warm-up and cosine, the cosine's end stated (300 epochs), so
# that a shortened run (--cfg-options train_cfg.max_epochs=N) keeps the
# schedule of the full one.
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        end=20,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=20,
        end=300)
]

# Exact resume: see imagenet_bs256_100e.py.
train_cfg = dict(
    _delete_=True,
    type='ResumableEpochBasedTrainLoop',
    max_epochs=300,
    val_interval=1)
