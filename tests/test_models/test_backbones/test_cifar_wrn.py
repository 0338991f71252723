# Copyright (c) mmenergykd contributors. All rights reserved.
import pytest
import torch

from mmenergykd.models.backbones import CifarWideResNet

# (parameters, state-dict entries) of the original zoo networks with 100
# classes, counted on the networks built by mdistiller's
# mdistiller/models/cifar/wrn.py (commit a08d46f, identical in the Energy KD
# release). wrn_16_1 has one entry less than wrn_16_2: its first block maps
# 16 -> 16 channels and keeps an identity shortcut.
EXPECTED = {
    'wrn_16_1': (180916, 82),
    'wrn_16_2': (703284, 83),
    'wrn_40_1': (569780, 226),
    'wrn_40_2': (2255156, 227),
}


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_cifar_wrn_zoo(name, build_zoo_classifier, check_zoo_model):
    model = build_zoo_classifier(name)
    assert isinstance(model.backbone, CifarWideResNet)
    check_zoo_model(model, *EXPECTED[name])


def test_cifar_wrn_feature_map_and_shortcuts():
    backbone = CifarWideResNet('wrn_16_2')
    feats = backbone(torch.randn(2, 3, 32, 32))
    assert len(feats) == 1 and feats[0].shape == (2, 128, 8, 8)
    assert (feats[0] >= 0).all()  # ends with BN + ReLU
    assert backbone.layer1[0].shortcut is not None
    assert CifarWideResNet('wrn_16_1').layer1[0].shortcut is None


def test_cifar_wrn_bad_arch():
    with pytest.raises(KeyError):
        CifarWideResNet('wrn_28_10')
    with pytest.raises(ValueError, match='6n'):
        CifarWideResNet(dict(depth=18, widen_factor=2))
    backbone = CifarWideResNet(dict(depth=10, widen_factor=1), drop_rate=0.3)
    assert len(backbone.layer1) == 1 and backbone.layer1[0].drop_rate == 0.3
