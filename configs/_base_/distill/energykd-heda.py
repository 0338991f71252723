# Energy KD + HE-DA: Energy KD (energykd.py, paper direction) plus CutMix
# among the 50 % highest-energy samples; the extra term on the mixed images
# uses the run's energy-group temperatures. One calibration pass serves both.
_base_ = ['./energykd.py']

custom_hooks = [
    dict(type='EnergyCalibrationHook'),
    dict(
        type='HighEnergyAugmentHook',
        high_ratio=0.5,
        augment='cutmix',
        kd_term='energy',
        loss_weight=0.9)
]
