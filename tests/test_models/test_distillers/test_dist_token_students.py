# Copyright (c) mmenergykd contributors. All rights reserved.
"""DeiT / LeViT students: the class head learns from the labels, the
distillation head from the distill losses aimed at it; prediction is
MMPretrain's own average of both."""
import pytest
import torch
import torch.nn.functional as F

from tests.helpers import (build_model, random_batch, save_tiny_teacher,
                           tiny_classifier)


def tiny_deit(num_classes=5):
    return dict(
        type='ImageClassifier',
        backbone=dict(
            type='DistilledVisionTransformer',
            arch=dict(
                embed_dims=16,
                num_layers=1,
                num_heads=2,
                feedforward_channels=32),
            img_size=16,
            patch_size=8),
        neck=None,
        head=dict(
            type='DeiTClsHead',
            num_classes=num_classes,
            in_channels=16,
            loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    return save_tiny_teacher(str(tmp_path_factory.mktemp('t') / 't.pth'))


def deit_distiller(teacher_ckpt, distill_losses, student=None, **kwargs):
    return build_model(
        dict(
            type='EnergyKDDistiller',
            student=student or tiny_deit(),
            teacher=tiny_classifier(5, base=8),
            teacher_ckpt=teacher_ckpt,
            distill_losses=distill_losses,
            data_preprocessor=dict(
                type='mmpretrain.ClsDataPreprocessor',
                num_classes=5,
                mean=[127.5] * 3,
                std=[127.5] * 3),
            **kwargs))


HARD = dict(
    loss_hard=dict(
        type='HardDistillLoss', loss_weight=0.5, student_head='dist'))


def test_deit_hard_distillation_step(teacher_ckpt):
    torch.manual_seed(0)
    model = deit_distiller(teacher_ckpt, HARD, student_loss_weight=0.5)
    model.train()
    data = model.data_preprocessor(random_batch(size=16), True)
    head = model.student.head.layers
    torch.nn.init.normal_(head.head.weight)
    torch.nn.init.normal_(head.head_dist.weight)
    losses = model(**data, mode='loss')
    feats = model.student.extract_feat(data['inputs'])
    cls_token, dist_token = feats[-1]
    cls_logits = head.head(cls_token)
    dist_logits = head.head_dist(dist_token)
    with torch.no_grad():
        t = model.teacher.head(model.teacher.extract_feat(data['inputs']))
    labels = torch.cat([d.gt_label for d in data['data_samples']])
    # DeiT: 1/2 CE(cls, labels) + 1/2 CE(dist, argmax teacher)
    torch.testing.assert_close(losses['loss_cls'],
                               0.5 * F.cross_entropy(cls_logits, labels))
    torch.testing.assert_close(losses['loss_hard'],
                               0.5 * F.cross_entropy(dist_logits, t.argmax(1)))
    # the distill loss trains the distillation head only, the labels the
    # class head only
    losses['loss_hard'].backward(retain_graph=True)
    assert head.head_dist.weight.grad.abs().sum() > 0
    assert head.head.weight.grad is None
    model.zero_grad()
    losses['loss_cls'].backward()
    assert head.head.weight.grad.abs().sum() > 0
    assert head.head_dist.weight.grad is None \
        or head.head_dist.weight.grad.abs().sum() == 0
    # prediction: MMPretrain's own average of both heads
    model.eval()
    with torch.no_grad():
        preds = model(
            **model.data_preprocessor(random_batch(size=16)), mode='predict')
        feats = model.student.extract_feat(data['inputs'])
        cls_token, dist_token = feats[-1]
        average = (head.head(cls_token) + head.head_dist(dist_token)) / 2
    torch.testing.assert_close(
        torch.stack([p.pred_score for p in preds]), average.softmax(1))


def test_energy_kd_and_kd_on_the_dist_token(teacher_ckpt):
    model = deit_distiller(
        teacher_ckpt,
        dict(
            loss_energykd=dict(type='EnergyKDLoss', student_head='dist'),
            loss_kd=dict(type='KDLoss', student_head='cls')))
    model.train()
    data = model.data_preprocessor(random_batch(size=16), True)
    student = model.student_head_logits(data['inputs'])
    assert set(student) == {'cls', 'dist'}
    # HE-DA's student: the head the teacher trains
    torch.testing.assert_close(
        model.student_logits(data['inputs']), student['dist'])
    losses = model(**data, mode='loss')
    assert {'loss_energykd', 'loss_kd', 'energy_low'} <= set(losses)
    assert model.distill_losses.student_heads == dict(
        loss_energykd='dist', loss_kd='cls')


def test_dist_token_refusals(teacher_ckpt):
    with pytest.raises(ValueError, match="student_head='dist'"):
        deit_distiller(teacher_ckpt, dict(loss_kd=dict(type='KDLoss')))
    with pytest.raises(ValueError, match='DeiTClsHead'):
        deit_distiller(teacher_ckpt, {})
    with pytest.raises(ValueError, match=r"has the heads \['cls'\]"):
        deit_distiller(teacher_ckpt, HARD, student=tiny_classifier(5, 4))
    model = deit_distiller(teacher_ckpt, HARD)
    with pytest.raises(ValueError, match="student_head='dist'"):
        model.set_distill_losses(dict(loss_kd=dict(type='KDLoss')))


def test_plain_students_keep_one_head(teacher_ckpt):
    model = deit_distiller(
        teacher_ckpt,
        dict(loss_kd=dict(type='KDLoss')),
        student=tiny_classifier(5, base=4))
    data = model.data_preprocessor(random_batch(size=16), True)
    logits = model.student_head_logits(data['inputs'])
    assert list(logits) == ['cls']
    assert torch.equal(
        model.student_logits(data['inputs']),
        model.student.head(model.student.extract_feat(data['inputs'])))
