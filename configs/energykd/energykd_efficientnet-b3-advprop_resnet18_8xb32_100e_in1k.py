# Energy KD (paper direction) from a teacher that preprocesses differently
# from its student: EfficientNet-B3 (AdvProp weights from MMPretrain's zoo
# by name, 81.81 top-1; pixels in [-1, 1], 300 px) -> ResNet-18 (ImageNet
# mean / std, 224 px crops), MMPretrain's ResNet recipe (100 epochs). The
# teacher sees the student's crops resized to 300 px and normalised its
# way (see kd_efficientnet-b3-advprop_resnet18_8xb32_100e_in1k.py in
# configs/kd). Temperatures and weights of res34_res18_in1k.py (1.5 / 1 /
# 0.5, KD weight 3, CE 1). No published number for this pair.
_base_ = [
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256_100e.py',
    '../_base_/distill/energykd.py'
]

model = dict(
    student='mmpretrain::resnet/resnet18_8xb32_in1k.py',
    teacher='efficientnet-b3_3rdparty_8xb32-aa-advprop_in1k',
    student_loss_weight=1.0,
    distill_losses=dict(
        loss_energykd=dict(
            low_energy_temperature=1.5,
            mid_temperature=1.0,
            high_energy_temperature=0.5,
            loss_weight=3.0)))
