# Copyright (c) mmenergykd contributors. All rights reserved.
import pytest
import torch

from mmenergykd.models.backbones import CifarResNet

# (parameters, state-dict entries) of the original zoo networks with 100
# classes, counted with sum(p.numel() for p in net.parameters()) and
# len(net.state_dict()) on the networks built by mdistiller's
# mdistiller/models/cifar/resnet.py (commit a08d46f, identical in the Energy
# KD release). By hand for resnet8: stem 432 + 32 (BN); layer1 2 * 2304 +
# 2 * 32 = 4672; layer2 4608 + 9216 + 2 * 64 + shortcut (512 + 64) = 14528;
# layer3 18432 + 36864 + 2 * 128 + shortcut (2048 + 128) = 57728; fc 6400 +
# 100 = 6500; total 83892.
EXPECTED = {
    'resnet8': (83892, 56),
    'resnet14': (181108, 92),
    'resnet20': (278324, 128),
    'resnet32': (472756, 200),
    'resnet44': (667188, 272),
    'resnet56': (861620, 344),
    'resnet110': (1736564, 668),
    'resnet8x4': (1233540, 62),
    'resnet32x4': (7433860, 206),
}


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_cifar_resnet_zoo(name, build_zoo_classifier, check_zoo_model):
    model = build_zoo_classifier(name)
    assert isinstance(model.backbone, CifarResNet)
    check_zoo_model(model, *EXPECTED[name])


def test_cifar_resnet_feature_map():
    backbone = CifarResNet('resnet8x4')
    backbone.init_weights()
    feats = backbone(torch.randn(2, 3, 32, 32))
    assert isinstance(feats, tuple) and len(feats) == 1
    assert feats[0].shape == (2, 256, 8, 8)
    # resnet8x4 projects in its first block (32 -> 64 channels, stride 1)
    assert backbone.layer1[0].downsample is not None
    assert backbone.layer1[0].downsample[0].stride == (1, 1)


def test_cifar_resnet_custom_and_bad_arch():
    backbone = CifarResNet(dict(depth=14, widths=(8, 8, 16, 32)))
    assert len(backbone.layer2) == 2
    with pytest.raises(KeyError, match='resnet20'):
        CifarResNet('resnet18')
    with pytest.raises(ValueError, match='6n'):
        CifarResNet(dict(depth=16, widths=(16, 16, 32, 64)))


def test_cifar_resnet_zoo_init_and_loss(build_zoo_classifier):
    model = build_zoo_classifier('resnet20')
    model.init_weights()
    conv = model.backbone.layer3[0].conv2.weight  # 64 x 64 x 3 x 3
    expected_std = (2.0 / (3 * 3 * 64))**0.5  # Kaiming normal, fan-out
    assert abs(conv.std().item() / expected_std - 1) < 0.05
    assert torch.all(model.backbone.layer3[0].bn2.weight == 1)

    from mmpretrain.structures import DataSample
    samples = [DataSample().set_gt_label(i) for i in (3, 97)]
    losses = model(torch.randn(2, 3, 32, 32), samples, mode='loss')
    assert losses['loss'].ndim == 0 and torch.isfinite(losses['loss'])
