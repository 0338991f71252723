"""The distiller's two-view (MLKD) data path."""
import pytest
import torch
import torch.nn.functional as F

from mmenergykd.models.losses import EnergyMLKDLoss, MLKDLoss
from tests.helpers import (build_model, random_batch, save_tiny_teacher,
                           tiny_distiller_cfg)


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    return save_tiny_teacher(str(tmp_path_factory.mktemp('t') / 't.pth'))


def _two_view_batch(model):
    weak = model.data_preprocessor(random_batch(seed=0), True)
    strong = model.data_preprocessor(random_batch(seed=1), True)
    return [weak['inputs'], strong['inputs']], weak['data_samples']


@pytest.mark.parametrize('loss_type', ['MLKDLoss', 'EnergyMLKDLoss'])
def test_two_views_reach_teacher_student_and_loss(teacher_ckpt, loss_type):
    extra = {} if loss_type == 'MLKDLoss' else dict(
        low_energy_temperature=6.0,
        mid_temperature=4.0,
        high_energy_temperature=2.0)
    model = build_model(
        tiny_distiller_cfg(
            teacher_ckpt,
            distill_losses=dict(loss_mlkd=dict(type=loss_type, **extra)),
            student_loss_weight=0.1))
    model.train()
    views, samples = _two_view_batch(model)
    if loss_type == 'EnergyMLKDLoss':
        model.distill_losses['loss_mlkd'].set_thresholds(-3.0, -2.0)
    losses = model(views, samples, mode='loss')
    # independent: logits of each view, the loss module called directly
    with torch.no_grad():
        t = [model.teacher.head(model.teacher.extract_feat(v)) for v in views]
        s = [model.student.head(model.student.extract_feat(v)) for v in views]
    labels = torch.cat([x.gt_label for x in samples])
    ce = sum(F.cross_entropy(x, labels) for x in s) * 0.1
    assert losses['loss_cls'].item() == pytest.approx(ce.item(), rel=1e-5)
    reference = model.distill_losses['loss_mlkd'](s[0], s[1], t[0], t[1])
    assert losses['loss_mlkd'].item() == pytest.approx(
        reference.item(), rel=1e-5)
    if loss_type == 'EnergyMLKDLoss':
        assert isinstance(model.distill_losses['loss_mlkd'], EnergyMLKDLoss)
        shares = losses['energy_low'] + losses['energy_mid'] + \
            losses['energy_high']
        assert shares.item() == pytest.approx(1.0)
    else:
        assert isinstance(model.distill_losses['loss_mlkd'], MLKDLoss)


def test_one_view_for_a_two_view_loss_is_refused(teacher_ckpt):
    model = build_model(
        tiny_distiller_cfg(
            teacher_ckpt,
            distill_losses=dict(loss_mlkd=dict(type='MLKDLoss'))))
    data = model.data_preprocessor(random_batch(), True)
    with pytest.raises(ValueError, match='two views'):
        model(**data, mode='loss')


def test_single_view_losses_use_the_weak_view(teacher_ckpt):
    model = build_model(
        tiny_distiller_cfg(
            teacher_ckpt, distill_losses=dict(loss_kd=dict(type='KDLoss'))))
    model.train()
    views, samples = _two_view_batch(model)
    two = model(views, samples, mode='loss')['loss_kd']
    one = model(views[0], samples, mode='loss')['loss_kd']
    assert torch.equal(two, one)
