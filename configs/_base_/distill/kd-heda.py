# KD + HE-DA (the release's energy_aug): KD (kd.py) plus CutMix among the
# 50 % highest-energy samples of each batch (threshold from one calibration
# pass), with a second KD term on the mixed images only, at the run's KD
# temperature and weight (the release uses the same T and weight for both).
# The mixed images are extra: the batch is trained on as usual.
_base_ = ['./kd.py']

custom_hooks = [
    dict(
        type='HighEnergyAugmentHook',
        high_ratio=0.5,
        augment='cutmix',
        kd_term='kd',
        temperature=4.0,
        loss_weight=0.9)
]
