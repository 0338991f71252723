# Energy KD (PAPER direction: low_energy_temperature = 6 > mid 4 >
# high_energy_temperature = 2) + HE-DA: CutMix among the 50 % highest-energy
# samples, the extra term on the mixed images using the same energy-group
# temperatures. One calibration pass serves both.
_base_ = ['./energykd_cifarresnet20_cifarresnet8_1xb64_30e_digits.py']

custom_hooks = [
    dict(type='EnergyCalibrationHook'),
    dict(
        type='HighEnergyAugmentHook',
        high_ratio=0.5,
        augment='cutmix',
        kd_term='energy',
        loss_weight=0.9)
]
