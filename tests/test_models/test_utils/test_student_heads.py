# Copyright (c) mmenergykd contributors. All rights reserved.
"""The class and distillation heads of DeiT / LeViT students."""
import pytest
import torch
from mmengine.registry import DefaultScope

from mmenergykd.models.utils.student_heads import (DeiTHeads, LeViTHeads,
                                                   StudentHeads,
                                                   check_head_targets,
                                                   pop_head_targets,
                                                   student_heads_for)
from mmenergykd.registry import MODELS


def build(cfg):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


def tiny_deit(num_classes=5):
    return build(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='DistilledVisionTransformer',
                arch=dict(
                    embed_dims=16,
                    num_layers=1,
                    num_heads=2,
                    feedforward_channels=32),
                img_size=32,
                patch_size=8),
            neck=None,
            head=dict(
                type='DeiTClsHead', num_classes=num_classes, in_channels=16)))


def tiny_levit(num_classes=5, distillation=True):
    return build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='LeViT', arch='128s', img_size=64),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LeViTClsHead',
                num_classes=num_classes,
                in_channels=384,
                distillation=distillation)))


def test_deit_heads_split_the_averaged_prediction():
    torch.manual_seed(0)
    model = tiny_deit()
    torch.nn.init.normal_(model.head.layers.head_dist.weight)
    torch.nn.init.normal_(model.head.layers.head.weight)
    heads = student_heads_for(model.head)
    assert isinstance(heads, DeiTHeads) and heads.names == ('cls', 'dist')
    model.eval()
    feats = model.extract_feat(torch.randn(2, 3, 32, 32))
    logits = heads(feats)
    cls_token, dist_token = feats[-1]
    torch.testing.assert_close(
        logits['cls'], cls_token @ model.head.layers.head.weight.T +
        model.head.layers.head.bias)
    torch.testing.assert_close(
        logits['dist'], dist_token @ model.head.layers.head_dist.weight.T +
        model.head.layers.head_dist.bias)
    # MMPretrain's own prediction is their average
    torch.testing.assert_close(
        model.head(feats), (logits['cls'] + logits['dist']) / 2)
    assert not torch.allclose(logits['cls'], logits['dist'])


def test_deit_heads_train_without_mmpretrains_warning():
    model = tiny_deit().train()
    feats = model.extract_feat(torch.randn(2, 3, 32, 32))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        logits = student_heads_for(model.head)(feats)
    logits['dist'].sum().backward()
    assert model.head.layers.head_dist.weight.grad.abs().sum() > 0
    assert model.head.layers.head.weight.grad is None


def test_levit_heads():
    torch.manual_seed(0)
    model = tiny_levit().train()
    heads = student_heads_for(model.head)
    assert isinstance(heads, LeViTHeads)
    feats = model.extract_feat(torch.randn(2, 3, 64, 64))
    logits = heads(feats)  # MMPretrain's forward raises in training
    assert logits['cls'].shape == logits['dist'].shape == (2, 5)
    model.eval()
    feats = model.extract_feat(torch.randn(2, 3, 64, 64))
    logits = heads(feats)
    torch.testing.assert_close(
        model.head(feats), (logits['cls'] + logits['dist']) / 2)
    single = student_heads_for(tiny_levit(distillation=False).head)
    assert type(single) is StudentHeads and not single.has_dist


def test_pop_head_targets_leaves_the_config_untouched():
    cfg = dict(
        loss_hard=dict(type='HardDistillLoss', student_head='dist'),
        loss_kd=dict(type='KDLoss'))
    configs, targets = pop_head_targets(cfg)
    assert targets == dict(loss_hard='dist', loss_kd='cls')
    assert 'student_head' not in configs['loss_hard']
    assert cfg['loss_hard']['student_head'] == 'dist'
    with pytest.raises(TypeError, match='student_head'):
        pop_head_targets(dict(loss_kd=dict(type='KDLoss', student_head=1)))


def test_check_head_targets_refusals():
    deit = student_heads_for(tiny_deit().head)
    check_head_targets(dict(loss_hard='dist', loss_kd='cls'), deit, 'DeiT')
    with pytest.raises(ValueError, match="student_head='dist'"):
        check_head_targets(dict(loss_kd='cls'), deit, 'DeiTClsHead')
    plain = StudentHeads(torch.nn.Identity())
    with pytest.raises(ValueError, match=r"\['cls'\]"):
        check_head_targets(dict(loss_hard='dist'), plain, 'LinearClsHead')
    with pytest.raises(ValueError, match="'token'"):
        check_head_targets(dict(loss_hard='token'), deit, 'DeiTClsHead')
    check_head_targets(dict(loss_kd='cls'), plain, 'LinearClsHead')
