# Copyright (c) mmenergykd contributors. All rights reserved.
import pytest
import torch

from mmenergykd.models.backbones import CifarResNet50

# (parameters, state-dict entries) of the zoo's ResNet50 with 100 classes,
# counted on the network built by mdistiller's
# mdistiller/models/cifar/resnetv2.py (commit a08d46f, identical in the
# Energy KD release).
EXPECTED = {'resnet50': (23705252, 320)}


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_cifar_resnet50_zoo(name, build_zoo_classifier, check_zoo_model):
    model = build_zoo_classifier(name)
    assert isinstance(model.backbone, CifarResNet50)
    check_zoo_model(model, *EXPECTED[name])


def test_cifar_resnet50_layout():
    backbone = CifarResNet50(dict(num_blocks=(1, 1, 1, 1)))
    assert backbone(torch.randn(1, 3, 32, 32))[0].shape == (1, 2048, 4, 4)
    assert backbone.layer2[0].conv2.stride == (2, 2)  # stride on the 3x3
    with pytest.raises(KeyError):
        CifarResNet50('resnet18')
