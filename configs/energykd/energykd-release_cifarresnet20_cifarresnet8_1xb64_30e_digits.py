# Energy KD, release direction (the authors' code, cfg T.LOW/MID/HIGH), on the
# digits benchmark: low-energy (confident) samples get the LOWER temperature
# 2, high-energy ones the HIGHER 6 (_base_/distill/energykd-release.py);
# everything else as in energykd_cifarresnet20_cifarresnet8_1xb64_30e_
# digits.py.
_base_ = [
    '../_base_/datasets/digits_bs64.py', '../_base_/schedules/digits_30e.py',
    '../_base_/models/digits_distiller.py',
    '../_base_/distill/energykd-release.py'
]

model = dict(
    student={{_base_.student_model}},
    teacher={{_base_.teacher_model}},
    teacher_ckpt={{_base_.teacher_ckpt}},
    # The teacher's forward is a third of a step here: inference mode skips
    # autograd's bookkeeping for it (same values as no_grad).
    teacher_settings=dict(inference_mode=True))
