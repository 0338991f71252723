# Energy DKD, paper direction, on the digits benchmark: DKD (alpha 1, beta 8,
# CE 1.0, warm-up over 3 of 30 epochs as in the DKD config) with the
# per-sample temperature of Energy KD (6 / 4 / 2) and the release's Energy
# DKD ratios 0.1 / 0.1 (_base_/distill/energydkd.py).
_base_ = [
    '../_base_/datasets/digits_bs64.py', '../_base_/schedules/digits_30e.py',
    '../_base_/models/digits_distiller.py', '../_base_/distill/energydkd.py'
]

model = dict(
    student={{_base_.student_model}},
    teacher={{_base_.teacher_model}},
    teacher_ckpt={{_base_.teacher_ckpt}},
    # The teacher's forward is a third of a step here: inference mode skips
    # autograd's bookkeeping for it (same values as no_grad).
    teacher_settings=dict(inference_mode=True),
    loss_warmup_epochs=dict(loss_energydkd=3))
