# Energy KD, PAPER direction (the paper's text): low-energy (confident)
# samples get the HIGHER temperature, high-energy (uncertain) samples the
# LOWER one:
#   low_energy_temperature = 6 > mid_temperature = 4
#   > high_energy_temperature = 2.
# Groups: the 20 % lowest / 20 % highest teacher energies (T_E = 4) of the
# training set, calibrated once before training. CE 0.1, KD 0.9 as for KD.
_base_ = [
    '../_base_/datasets/digits_bs64.py', '../_base_/schedules/digits_30e.py',
    '../_base_/models/digits_distiller.py'
]

model = dict(
    student_loss_weight=0.1,
    distill_losses=dict(
        loss_energykd=dict(
            type='EnergyKDLoss',
            low_energy_temperature=6.0,
            mid_temperature=4.0,
            high_energy_temperature=2.0,
            energy_temperature=4.0,
            low_ratio=0.2,
            high_ratio=0.2,
            loss_weight=0.9)))

custom_hooks = [dict(type='EnergyCalibrationHook')]
