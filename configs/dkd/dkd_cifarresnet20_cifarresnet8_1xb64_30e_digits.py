# Decoupled KD (Zhao et al., CVPR 2022): T = 4, alpha 1, beta 8, CE 1.0, with
# a linear warm-up of the DKD term (20 of 240 epochs in the CIFAR recipe;
# here 3 of 30 epochs, the same share of the run).
_base_ = [
    '../_base_/datasets/digits_bs64.py', '../_base_/schedules/digits_30e.py',
    '../_base_/models/digits_distiller.py'
]

model = dict(
    student_loss_weight=1.0,
    distill_losses=dict(
        loss_dkd=dict(
            type='DKDLoss',
            alpha=1.0,
            beta=8.0,
            temperature=4.0,
            loss_weight=1.0)),
    loss_warmup_epochs=dict(loss_dkd=3))
