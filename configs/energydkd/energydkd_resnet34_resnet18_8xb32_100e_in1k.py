# Energy DKD, paper direction: ResNet-34 -> ResNet-18 on ImageNet, 100
# epochs. DKD's ImageNet recipe (alpha 1, beta 0.5, one warm-up epoch) with
# the per-sample Energy KD temperature around base 1 (1.5 / 1.0 / 0.5, see
# ../energykd/res34_res18_in1k.py) and the release's Energy DKD ratios
# 0.1 / 0.1 (_base_/distill/energydkd.py).
_base_ = [
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256_100e.py',
    '../_base_/distill/energydkd.py'
]

teacher_ckpt = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet34_8xb32_in1k_20210831-f257d4e6.pth'  # noqa: E501
model = dict(
    student='mmpretrain::resnet/resnet18_8xb32_in1k.py',
    teacher='mmpretrain::resnet/resnet34_8xb32_in1k.py',
    teacher_ckpt=teacher_ckpt,
    distill_losses=dict(
        loss_energydkd=dict(
            beta=0.5,
            low_energy_temperature=1.5,
            mid_temperature=1.0,
            high_energy_temperature=0.5)),
    loss_warmup_epochs=dict(loss_energydkd=1))
