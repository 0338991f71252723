# Copyright (c) mmenergykd contributors. All rights reserved.
import pytest
import torch

from mmenergykd.models.backbones import CifarShuffleNetV1
from mmenergykd.models.backbones.cifar_shufflenetv1 import channel_shuffle

# (parameters, state-dict entries) of the zoo's ShuffleV1 with 100 classes,
# counted on the network built by mdistiller's
# mdistiller/models/cifar/ShuffleNetv1.py (commit a08d46f, identical in the
# Energy KD release).
EXPECTED = {'shufflenetv1': (949258, 296)}


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_cifar_shufflenetv1_zoo(name, build_zoo_classifier, check_zoo_model):
    model = build_zoo_classifier(name)
    assert isinstance(model.backbone, CifarShuffleNetV1)
    check_zoo_model(model, *EXPECTED[name])


def test_cifar_shufflenetv1_layout():
    backbone = CifarShuffleNetV1()
    assert backbone(torch.randn(2, 3, 32, 32))[0].shape == (2, 960, 4, 4)
    # a unit fed by the 24-channel stem does not group its first 1x1 conv
    assert backbone.layer1[0].conv1.groups == 1
    assert backbone.layer1[1].conv1.groups == 3
    assert backbone.layer1[0].conv3.out_channels == 240 - 24


def test_channel_shuffle():
    x = torch.arange(6.).view(1, 6, 1, 1)
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]
    assert channel_shuffle(x, 1).flatten().tolist() == list(range(6))
