# KD + HE-DA, as in the release: vanilla KD (T = 4, CE 0.1, KD 0.9) plus
# CutMix among the 50 % highest-energy training samples (threshold from one
# calibration pass), with a second KD term (T = 4, weight 0.9) on the mixed
# images only. The mixed images are extra: the batch is trained on as usual.
_base_ = ['./kd_cifarresnet20_cifarresnet8_1xb64_30e_digits.py']

custom_hooks = [
    dict(
        type='HighEnergyAugmentHook',
        high_ratio=0.5,
        augment='cutmix',
        kd_term='kd',
        temperature=4.0,
        loss_weight=0.9)
]
