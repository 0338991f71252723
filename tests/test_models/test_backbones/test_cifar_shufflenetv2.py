# Copyright (c) mmenergykd contributors. All rights reserved.
import pytest
import torch

from mmenergykd.models.backbones import CifarShuffleNetV2

# (parameters, state-dict entries) of the zoo's ShuffleV2 (net size 1) with
# 100 classes, counted on the network built by mdistiller's
# mdistiller/models/cifar/ShuffleNetv2.py (commit a08d46f, identical in the
# Energy KD release).
EXPECTED = {'shufflenetv2': (1355528, 338)}


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_cifar_shufflenetv2_zoo(name, build_zoo_classifier, check_zoo_model):
    model = build_zoo_classifier(name)
    assert isinstance(model.backbone, CifarShuffleNetV2)
    check_zoo_model(model, *EXPECTED[name])


def test_cifar_shufflenetv2_layout():
    backbone = CifarShuffleNetV2()
    feats = backbone(torch.randn(2, 3, 32, 32))
    assert feats[0].shape == (2, 1024, 4, 4)
    assert [len(backbone.layer1),
            len(backbone.layer2),
            len(backbone.layer3)] == [4, 8, 4]  # down unit + 3 / 7 / 3
    with pytest.raises(KeyError):
        CifarShuffleNetV2('shufflenetv2_x2.0')
