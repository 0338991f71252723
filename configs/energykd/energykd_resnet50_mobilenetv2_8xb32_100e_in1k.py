# Energy KD, paper direction: ResNet-50 (MMPretrain's resnet50_8xb32_in1k,
# OpenMMLab checkpoint, 76.55 top-1) -> MobileNetV2 (its
# mobilenet-v2_8xb32_in1k) on ImageNet, with the recipe and 100-epoch
# schedule of res34_res18_in1k.py.
_base_ = ['./res34_res18_in1k.py']

teacher_ckpt = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth'  # noqa: E501
model = dict(
    student='mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py',
    teacher='mmpretrain::resnet/resnet50_8xb32_in1k.py',
    teacher_ckpt=teacher_ckpt)
