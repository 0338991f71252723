# DKD (Zhao et al., CVPR 2022) on the digits benchmark: T 4, alpha 1, beta 8,
# CE 1.0 (_base_/distill/dkd.py), with the linear warm-up of the DKD term
# over the same share of the run as the CIFAR recipe (20 of 240 epochs): 3
# of 30.
_base_ = [
    '../_base_/datasets/digits_bs64.py', '../_base_/schedules/digits_30e.py',
    '../_base_/models/digits_distiller.py', '../_base_/distill/dkd.py'
]

model = dict(
    student={{_base_.student_model}},
    teacher={{_base_.teacher_model}},
    teacher_ckpt={{_base_.teacher_ckpt}},
    # The teacher's forward is a third of a step here: inference mode skips
    # autograd's bookkeeping for it (same values as no_grad).
    teacher_settings=dict(inference_mode=True),
    loss_warmup_epochs=dict(loss_dkd=3))
