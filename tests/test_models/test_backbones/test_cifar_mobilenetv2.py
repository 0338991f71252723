# Copyright (c) mmenergykd contributors. All rights reserved.
import pytest
import torch

from mmenergykd.models.backbones import CifarMobileNetV2

# (parameters, state-dict entries) of the zoo's mobile_half (MobileNetV2,
# expansion 6, width 0.5) with 100 classes, counted on the network built by
# mdistiller's mdistiller/models/cifar/mobilenetv2.py (commit a08d46f,
# identical in the Energy KD release).
EXPECTED = {'mobilenetv2': (812836, 320)}


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_cifar_mobilenetv2_zoo(name, build_zoo_classifier, check_zoo_model):
    model = build_zoo_classifier(name)
    assert isinstance(model.backbone, CifarMobileNetV2)
    check_zoo_model(model, *EXPECTED[name])


def test_cifar_mobilenetv2_layout():
    backbone = CifarMobileNetV2()
    feats = backbone(torch.randn(2, 3, 32, 32))
    assert len(feats) == 1 and feats[0].shape == (2, 1280, 2, 2)
    widths = [stage[-1].conv[6].out_channels for stage in backbone.blocks]
    assert widths == [8, 12, 16, 32, 48, 80, 160]
    # the first stage expands by 1, the others by 6
    assert backbone.blocks[0][0].conv[0].out_channels == 16
    assert backbone.blocks[1][0].conv[0].out_channels == 48
    wide = CifarMobileNetV2(dict(expand_ratio=6, widen_factor=1.5))
    assert wide.out_channels == 1920
    with pytest.raises(KeyError):
        CifarMobileNetV2('mobilenetv2_x1.0')
