# Energy MLKD, paper direction: MLKD (mlkd.py) with every temperature of
# sample i multiplied by T_group(i) / T_mid from the teacher's energy on the
# weak view (6 / 4 / 2 for low / mid / high energy: x1.5 / x1 / x0.5), energy
# ratios 0.2 / 0.2 as Energy KD. This project's reading of "Energy MLKD": its
# formula is not public (method.md section 6).
model = dict(
    type='EnergyKDDistiller',
    student_loss_weight=0.1,
    distill_losses=dict(
        loss_energymlkd=dict(
            type='EnergyMLKDLoss',
            low_energy_temperature=6.0,
            mid_temperature=4.0,
            high_energy_temperature=2.0,
            energy_temperature=4.0,
            low_ratio=0.2,
            high_ratio=0.2,
            temperatures=(4.0, 3.0, 5.0, 2.0, 6.0),
            loss_weight=0.9)))

custom_hooks = [dict(type='EnergyCalibrationHook')]
