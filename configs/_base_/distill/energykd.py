# Energy KD, paper direction (the paper's text): each sample's KD temperature
# follows the teacher's energy -E(x) = T_E * logsumexp(z / T_E): the 20 %
# lowest-energy (confident) samples get the HIGHER temperature 6, the 20 %
# highest-energy ones the LOWER 2, the rest 4. CE 0.1, KD 0.9 as for KD. The
# thresholds come from one teacher pass over the training set before training
# (EnergyCalibrationHook; stored in checkpoints, a resumed run reuses them).
model = dict(
    type='EnergyKDDistiller',
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
