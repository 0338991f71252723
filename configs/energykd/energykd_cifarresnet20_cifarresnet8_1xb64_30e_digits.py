# Energy KD, paper direction, on the digits benchmark (_base_/distill/
# energykd.py): the 20 % lowest-energy (confident) training samples get the
# HIGHER temperature 6, the 20 % highest-energy ones the LOWER 2, the rest 4
# (teacher energies at T_E = 4, calibrated once before training); CE 0.1,
# KD 0.9 as for KD.
_base_ = [
    '../_base_/datasets/digits_bs64.py', '../_base_/schedules/digits_30e.py',
    '../_base_/models/digits_distiller.py', '../_base_/distill/energykd.py'
]

model = dict(
    student={{_base_.student_model}},
    teacher={{_base_.teacher_model}},
    teacher_ckpt={{_base_.teacher_ckpt}},
    # The teacher's forward is a third of a step here: inference mode skips
    # autograd's bookkeeping for it (same values as no_grad).
    teacher_settings=dict(inference_mode=True))
