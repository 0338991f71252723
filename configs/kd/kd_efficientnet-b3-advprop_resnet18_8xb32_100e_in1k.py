# KD from a teacher that preprocesses differently from its student:
# EfficientNet-B3 (AdvProp weights from MMPretrain's zoo, named by their
# model-index name; 81.81 top-1) -> ResNet-18, MMPretrain's ResNet recipe
# (100 epochs, 8 x 32 images). The teacher keeps its own preprocessing: its
# 01norm config scales pixels to [-1, 1] (mean = std = 127.5) where the
# student uses ImageNet mean / std, and it is tested at 300 px
# (EfficientNetCenterCrop, bicubic, OpenCV) where the student trains on
# 224 px crops. Each batch reaches the teacher as the same augmented crops,
# resized on the device to 300 px with OpenCV's bicubic kernel and
# normalised its way (see TeacherInputAdapter; the build log says so).
# ImageNet KD recipe as kd_resnet34_resnet18: tau 1, KD weight 3, CE 1. No
# published number for this pair.
_base_ = [
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256_100e.py', '../_base_/distill/kd.py'
]

model = dict(
    student='mmpretrain::resnet/resnet18_8xb32_in1k.py',
    teacher='efficientnet-b3_3rdparty_8xb32-aa-advprop_in1k',
    student_loss_weight=1.0,
    distill_losses=dict(loss_kd=dict(temperature=1.0, loss_weight=3.0)))
