# MLKD (Jin et al., CVPR 2023): instance, batch and class alignment over five
# temperatures on a weak and a strong view (list a two-view dataset base:
# _base_/datasets/*_mlkd_*.py). The CIFAR-100 recipe of the MLKD code
# (configs/cifar100/ours/*.yaml): temperatures 4 / 3 / 5 / 2 / 6 (the first is
# the configured one, the others fixed in its code), CE 0.1 on both views,
# KD 0.9.
model = dict(
    type='EnergyKDDistiller',
    student_loss_weight=0.1,
    distill_losses=dict(
        loss_mlkd=dict(
            type='MLKDLoss',
            temperatures=(4.0, 3.0, 5.0, 2.0, 6.0),
            loss_weight=0.9)))
