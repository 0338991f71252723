# KD (Hinton et al.) on the digits benchmark: CIFAR ResNet-20 -> CIFAR ResNet-8
# at 3/8 width, 30 epochs; one temperature T = 4 for every sample, CE 0.1,
# KD 0.9, as in the CIFAR recipe (_base_/distill/kd.py).
_base_ = [
    '../_base_/datasets/digits_bs64.py', '../_base_/schedules/digits_30e.py',
    '../_base_/models/digits_distiller.py', '../_base_/distill/kd.py'
]

model = dict(
    student={{_base_.student_model}},
    teacher={{_base_.teacher_model}},
    teacher_ckpt={{_base_.teacher_ckpt}},
    # The teacher's forward is a third of a step here: inference mode skips
    # autograd's bookkeeping for it (same values as no_grad).
    teacher_settings=dict(inference_mode=True))
