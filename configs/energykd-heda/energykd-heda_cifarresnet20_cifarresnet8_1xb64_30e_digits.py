# Energy KD (paper direction: 6 / 4 / 2) + HE-DA on the digits benchmark:
# CutMix among the 50 % highest-energy samples, the extra term on the mixed
# images using the same energy-group temperatures; one calibration pass
# serves both (_base_/distill/energykd-heda.py).
_base_ = [
    '../_base_/datasets/digits_bs64.py', '../_base_/schedules/digits_30e.py',
    '../_base_/models/digits_distiller.py',
    '../_base_/distill/energykd-heda.py'
]

model = dict(
    student={{_base_.student_model}},
    teacher={{_base_.teacher_model}},
    teacher_ckpt={{_base_.teacher_ckpt}},
    # The teacher's forward is a third of a step here: inference mode skips
    # autograd's bookkeeping for it (same values as no_grad).
    teacher_settings=dict(inference_mode=True))
