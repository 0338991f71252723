# Energy DKD: DKD (alpha 1, beta 8, CE 1.0, 3-epoch warm-up as
# in the DKD config) with
# the per-sample temperature of Energy KD, PAPER direction
# (low_energy_temperature = 6 > mid 4 > high_energy_temperature = 2) and the
# release's Energy DKD group rates 0.1 / 0.1.
_base_ = [
    '../_base_/datasets/digits_bs64.py', '../_base_/schedules/digits_30e.py',
    '../_base_/models/digits_distiller.py'
]

model = dict(
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
    loss_warmup_epochs=dict(loss_energydkd=3))

custom_hooks = [dict(type='EnergyCalibrationHook')]
