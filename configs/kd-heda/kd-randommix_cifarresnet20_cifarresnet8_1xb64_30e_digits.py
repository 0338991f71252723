# Control for KD + HE-DA on the digits benchmark: the same CutMix, KD term
# and extra compute, but on a random subset of each batch (as many samples
# as the energy rule would pick in that step) instead of the high-energy
# samples. Comparing it with kd-heda_cifarresnet20_cifarresnet8_1xb64_30e_
# digits.py separates the effect of the energy-based choice from that of the
# extra mixed images.
_base_ = ['./kd-heda_cifarresnet20_cifarresnet8_1xb64_30e_digits.py']

custom_hooks = [
    dict(
        type='HighEnergyAugmentHook',
        high_ratio=0.5,
        selection='random',
        augment='cutmix',
        kd_term='kd',
        temperature=4.0,
        loss_weight=0.9)
]
