# DKD (Zhao et al., CVPR 2022): target-class and non-target-class KD weighted
# separately. The CIFAR-100 recipe of mdistiller (configs/cifar100/dkd/*.yaml):
# alpha 1, beta 8 (its default; some pairs set another beta), T 4, CE 1.0,
# the DKD term warmed up linearly over 20 of 240 epochs.
model = dict(
    type='EnergyKDDistiller',
    student_loss_weight=1.0,
    distill_losses=dict(
        loss_dkd=dict(
            type='DKDLoss',
            alpha=1.0,
            beta=8.0,
            temperature=4.0,
            loss_weight=1.0)),
    loss_warmup_epochs=dict(loss_dkd=20))
