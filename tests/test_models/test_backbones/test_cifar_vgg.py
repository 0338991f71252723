# Copyright (c) mmenergykd contributors. All rights reserved.
import pytest
import torch

from mmenergykd.models.backbones import CifarVGG

# (parameters, state-dict entries) of the original zoo networks with 100
# classes, counted on the networks built by mdistiller's
# mdistiller/models/cifar/vgg.py (the zoo's vggN is vggN_bn there; commit
# a08d46f, identical in the Energy KD release).
EXPECTED = {
    'vgg8': (3965028, 37),
    'vgg11': (9277284, 58),
    'vgg13': (9462180, 72),
    'vgg16': (14774436, 93),
    'vgg19': (20086692, 114),
}


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_cifar_vgg_zoo(name, build_zoo_classifier, check_zoo_model):
    model = build_zoo_classifier(name)
    assert isinstance(model.backbone, CifarVGG)
    check_zoo_model(model, *EXPECTED[name])


def test_cifar_vgg_feature_map():
    backbone = CifarVGG('vgg8')
    # 32 px: no pooling between block3 and block4 (as in the zoo)
    assert backbone(torch.randn(2, 3, 32, 32))[0].shape == (2, 512, 4, 4)
    # 64 px (the zoo's Tiny-ImageNet setting): the fourth max-pool is used
    assert backbone(torch.randn(1, 3, 64, 64))[0].shape == (1, 512, 4, 4)
    # keys follow the zoo's Sequential indices: conv 0, BN 1, conv 3, BN 4
    keys = CifarVGG('vgg13').state_dict()
    assert 'block0.3.weight' in keys and 'block0.4.running_var' in keys
    with pytest.raises(KeyError):
        CifarVGG('vgg13_bn')
