# Energy KD (paper direction, 6 / 4 / 2 as the digits configs) on the
# distillation token of a small ViT, heterogeneous digits setting: the
# digits CNN teacher (16 px, the set's mean / std) -> the ViT (32 px,
# [-1, 1]); the teacher gets the student's crops at its own size and
# normalisation, in the steps and in the calibration pass alike. Weights as
# DeiT's: labels 1/2 on the class token, Energy KD 1/2 on the distillation
# token.
_base_ = [
    '../_base_/datasets/digits_vit_bs64.py',
    '../_base_/schedules/digits_vit_30e.py', '../_base_/models/digits_vit.py',
    '../_base_/models/digits_distiller.py', '../_base_/distill/energykd.py'
]

model = dict(
    student={{_base_.deit_student}},
    teacher={{_base_.teacher_config}},
    teacher_ckpt={{_base_.teacher_ckpt}},
    teacher_input_size={{_base_.teacher_input_size}},
    teacher_settings=dict(inference_mode=True),
    student_loss_weight=0.5,
    distill_losses=dict(
        loss_energykd=dict(loss_weight=0.5, student_head='dist')))
