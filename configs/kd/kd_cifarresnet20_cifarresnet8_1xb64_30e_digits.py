# Vanilla KD (Hinton et al.): one temperature T = 4 for every sample, as in
# the CIFAR recipe of the Energy KD release (CE 0.1, KD 0.9).
_base_ = [
    '../_base_/datasets/digits_bs64.py', '../_base_/schedules/digits_30e.py',
    '../_base_/models/digits_distiller.py'
]

model = dict(
    student_loss_weight=0.1,
    distill_losses=dict(
        loss_kd=dict(type='KDLoss', temperature=4.0, loss_weight=0.9)))
