# The digits schedule (digits_30e.py: 30 epochs, cosine, seed 0) with the
# optimizer of MMPretrain's ViT / DeiT configs, AdamW (lr 1e-3 at batch 64,
# weight decay 0.05): SGD leaves these small ViTs far behind.
_base_ = ['./digits_30e.py']

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, weight_decay=0.05))
