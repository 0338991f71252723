# KD + HE-DA (the release's combination): the KD baseline plus CutMix on the
# 50 % highest-energy samples of each batch, with an extra KD term on the
# mixed images using the run's KD temperature and weight (the release uses
# the same T and weight for both terms). HE-DA calibrates the threshold with
# one teacher pass before training.
_base_ = ['../kd/kd_resnet34_resnet18_8xb32_100e_in1k.py']

custom_hooks = [
    dict(
        type='HighEnergyAugmentHook',
        high_ratio=0.5,
        augment='cutmix',
        kd_term='kd',
        temperature=1.0,
        loss_weight=3.0)
]
