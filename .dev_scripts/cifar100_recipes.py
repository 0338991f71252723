# Copyright (c) mmenergykd contributors. All rights reserved.
"""Per-pair CIFAR-100 recipes, each value with the file it comes from.

Read by ``generate_configs.py`` (the configs) and
``generate_metafiles.py`` (the model index). Sources, as read from the
stored copies of the public repositories:

- mdistiller (megvii-research/mdistiller @ e8c5bb3):
  ``configs/cifar100/kd.yaml`` (KD: batch 64, 240 epochs, lr 0.05, steps
  150 / 180 / 210, wd 5e-4) and ``configs/cifar100/dkd/<pair>.yaml`` (DKD:
  the same schedule, lr 0.01 for ShuffleNet / MobileNet students, ``DKD.BETA``
  per pair, 8.0 where the file sets none: mdistiller's default).
- MLKD (Jin-Ying/Multi-Level-Logit-Distillation @ 5ee473f / 6327e73):
  ``configs/cifar100/ours/<pair>.yaml`` (batch 64, wd 5e-4, steps
  150 / 180 / 210; the lr and the number of epochs vary per pair: 480 epochs
  with the same steps for the ShuffleNet / MobileNet students).
- The Energy KD release (method.md section 5): Energy KD ratios
  (``configs/cifar100/energy_kd/*.yaml``, 0.2 / 0.2, 0.3 / 0.3 for
  ResNet56 -> ResNet20), the HE-DA high ratio (``energy_aug/*.yaml``), and
  which pairs it ships (``release=True``).
"""
from collections import namedtuple

Pair = namedtuple('Pair', [
    'teacher', 'student', 'mdistiller', 'dkd_beta', 'mlkd_lr', 'mlkd_epochs',
    'release', 'heda_ratio', 'ekd_ratios'
])

#: ``mdistiller`` is the pair's file name in mdistiller's
#: configs/cifar100/dkd/ and MLKD's configs/cifar100/ours/ (the same names).
PAIRS = [
    Pair('resnet32x4', 'resnet8x4', 'res32x4_res8x4', 8.0, 0.025, 240, True,
         0.5, None),
    Pair('wrn_40_2', 'wrn_16_2', 'wrn40_2_wrn_16_2', 6.0, 0.025, 240, True,
         0.5, (0.2, 0.2)),
    Pair('wrn_40_2', 'wrn_40_1', 'wrn40_2_wrn_40_1', 6.0, 0.025, 240, False,
         None, None),
    Pair('resnet110', 'resnet32', 'res110_res32', 2.0, 0.025, 240, False, None,
         None),
    Pair('vgg13', 'vgg8', 'vgg13_vgg8', 6.0, 0.025, 240, True, 0.5,
         (0.2, 0.2)),
    Pair('wrn_40_2', 'shufflenetv1', 'wrn40_2_shuv1', 8.0, 0.0025, 480, False,
         None, None),
    Pair('resnet32x4', 'shufflenetv1', 'res32x4_shuv1', 8.0, 0.01, 480, False,
         None, None),
    Pair('resnet32x4', 'shufflenetv2', 'res32x4_shuv2', 8.0, 0.01, 480, True,
         0.5, (0.2, 0.2)),
    Pair('vgg13', 'mobilenetv2', 'vgg13_mv2', 6.0, 0.0025, 480, True, 0.5,
         (0.2, 0.2)),
    Pair('resnet50', 'mobilenetv2', 'res50_mv2', 8.0, 0.0025, 480, False, None,
         None),
    Pair('resnet56', 'resnet20', 'res56_res20', 2.0, 0.025, 240, True, 0.4,
         (0.3, 0.3)),
]

#: Students trained with lr 0.01 by mdistiller's DKD configs and the release.
SMALL_LR_STUDENTS = ('shufflenetv1', 'shufflenetv2', 'mobilenetv2')


def student_lr(pair: Pair) -> float:
    """The KD / DKD / Energy KD learning rate of a pair (0.05 or 0.01)."""
    return 0.01 if pair.student in SMALL_LR_STUDENTS else 0.05


def energy_ratios(pair: Pair) -> tuple:
    """Energy KD (low, high) ratios: the release's, else 0.2 / 0.2."""
    return pair.ekd_ratios or (0.2, 0.2)
