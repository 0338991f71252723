# Energy DKD, paper direction: DKD (dkd.py: alpha 1, beta 8, T 4, CE 1.0, 20
# warm-up epochs) with the per-sample temperature of Energy KD (6 / 4 / 2 for
# low / mid / high energy) and the release's Energy DKD group ratios
# 0.1 / 0.1.
model = dict(
    type='EnergyKDDistiller',
    student_loss_weight=1.0,
    distill_losses=dict(
        loss_energydkd=dict(
            type='EnergyDKDLoss',
            alpha=1.0,
            beta=8.0,
            low_energy_temperature=6.0,
            mid_temperature=4.0,
            high_energy_temperature=2.0,
            energy_temperature=4.0,
            low_ratio=0.1,
            high_ratio=0.1,
            loss_weight=1.0)),
    loss_warmup_epochs=dict(loss_energydkd=20))

custom_hooks = [dict(type='EnergyCalibrationHook')]
