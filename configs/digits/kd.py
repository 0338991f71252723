# Vanilla KD (Hinton et al.): one temperature T = 4 for every sample, as in
# the CIFAR recipe of the Energy KD release (CE 0.1, KD 0.9).
_base_ = ['./_base_/distill.py']

model = dict(
    student_loss_weight=0.1,
    distill_losses=dict(
        loss_kd=dict(type='KDLoss', temperature=4.0, loss_weight=0.9)))
