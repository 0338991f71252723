# Energy MLKD, paper direction: ResNet-34 -> ResNet-18 on ImageNet, 100
# epochs. MLKD's ImageNet recipe (../mlkd/mlkd_resnet34_resnet18_8xb32_100e_
# in1k.py: temperatures 1 / 3 / 5 / 2 / 6, CE 0.5, KD 0.5) with every
# temperature of sample i scaled by 1.5 / 1 / 0.5 for low / mid / high
# teacher energy on the weak view (6 / 4 / 2 at T 4, as in
# _base_/distill/energymlkd.py), energy ratios 0.2 / 0.2. Compare with the
# MLKD paper's 71.90.
_base_ = [
    '../_base_/datasets/imagenet_mlkd_bs32.py',
    '../_base_/schedules/imagenet_bs256_100e.py',
    '../_base_/distill/energymlkd.py'
]

teacher_ckpt = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet34_8xb32_in1k_20210831-f257d4e6.pth'  # noqa: E501
model = dict(
    student='mmpretrain::resnet/resnet18_8xb32_in1k.py',
    teacher='mmpretrain::resnet/resnet34_8xb32_in1k.py',
    teacher_ckpt=teacher_ckpt,
    student_loss_weight=0.5,
    distill_losses=dict(
        loss_energymlkd=dict(
            temperatures=(1.0, 3.0, 5.0, 2.0, 6.0), loss_weight=0.5)))
