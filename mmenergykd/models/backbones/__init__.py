# Copyright (c) mmenergykd contributors. All rights reserved.
"""Backbones registered by mmenergykd (the CIFAR model zoo lives here)."""
from .cifar_mobilenetv2 import CifarMobileNetV2
from .cifar_resnet import CifarResNet
from .cifar_resnet50 import CifarResNet50
from .cifar_shufflenetv1 import CifarShuffleNetV1
from .cifar_shufflenetv2 import CifarShuffleNetV2
from .cifar_vgg import CifarVGG
from .cifar_wrn import CifarWideResNet

__all__ = [
    'CifarMobileNetV2', 'CifarResNet', 'CifarResNet50', 'CifarShuffleNetV1',
    'CifarShuffleNetV2', 'CifarVGG', 'CifarWideResNet'
]
