# KD + HE-DA, as in the release, on the digits benchmark: KD (T 4, CE 0.1,
# KD 0.9) plus CutMix among the 50 % highest-energy training samples
# (threshold from one calibration pass) and a second KD term (T 4, weight
# 0.9) on the mixed images only (_base_/distill/kd-heda.py).
_base_ = [
    '../_base_/datasets/digits_bs64.py', '../_base_/schedules/digits_30e.py',
    '../_base_/models/digits_distiller.py', '../_base_/distill/kd-heda.py'
]

model = dict(
    student={{_base_.student_model}},
    teacher={{_base_.teacher_model}},
    teacher_ckpt={{_base_.teacher_ckpt}},
    # The teacher's forward is a third of a step here: inference mode skips
    # autograd's bookkeeping for it (same values as no_grad).
    teacher_settings=dict(inference_mode=True))
