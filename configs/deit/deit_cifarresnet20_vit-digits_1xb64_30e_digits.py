# DeiT's hard distillation on the digits, heterogeneous setting: the digits
# CNN teacher (CIFAR ResNet-20, 16 px, the set's mean / std) -> a small ViT
# with a distillation token (32 px, [-1, 1]); the teacher gets the student's
# crops at its own size and normalisation. Class token: labels (weight 1/2);
# distillation token: the teacher's argmax (weight 1/2).
_base_ = [
    '../_base_/datasets/digits_vit_bs64.py',
    '../_base_/schedules/digits_vit_30e.py', '../_base_/models/digits_vit.py',
    '../_base_/models/digits_distiller.py', '../_base_/distill/deit.py'
]

model = dict(
    student={{_base_.deit_student}},
    teacher={{_base_.teacher_config}},
    teacher_ckpt={{_base_.teacher_ckpt}},
    teacher_input_size={{_base_.teacher_input_size}},
    teacher_settings=dict(inference_mode=True))
