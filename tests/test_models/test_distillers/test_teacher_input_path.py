# Copyright (c) mmenergykd contributors. All rights reserved.
"""Raw uint8 batches through a distiller whose teacher preprocesses on its
own: the tensor entering the teacher's backbone is the teacher's own
preprocessing of the same images (MMPretrain's ClsDataPreprocessor as the
reference); equal preprocessing changes nothing."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models import ClsDataPreprocessor

from mmenergykd.models.losses import KDLoss
from tests.helpers import (build_model, random_batch, save_tiny_teacher,
                           tiny_classifier, tiny_distiller_cfg)

STUDENT_DP = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
TEACHER_DP = dict(mean=[127.5, 127.5, 127.5], std=[127.5] * 3, to_rgb=False)


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    return save_tiny_teacher(str(tmp_path_factory.mktemp('t') / 't.pth'))


def distiller(teacher_ckpt, teacher_dp=None, student_dp=STUDENT_DP, **kw):
    cfg = tiny_distiller_cfg(
        teacher_ckpt,
        distill_losses=dict(loss_kd=dict(type='KDLoss', temperature=4.0)),
        **kw)
    cfg['data_preprocessor'] = dict(
        type='mmpretrain.ClsDataPreprocessor', num_classes=5, **student_dp)
    if teacher_dp is not None:
        cfg['teacher'] = dict(
            cfg['teacher'],
            data_preprocessor=dict(
                type='ClsDataPreprocessor', num_classes=5, **teacher_dp))
    return build_model(cfg).train()


def backbone_inputs(model):
    """Every tensor that enters the teacher's backbone, in order."""
    seen = []
    model.teacher.backbone.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].detach().clone()))
    return seen


def teacher_own(raw, settings=TEACHER_DP):
    stacked = torch.stack(raw) if isinstance(raw, list) else raw
    return ClsDataPreprocessor(**settings)(dict(inputs=stacked))['inputs']


def test_teacher_gets_its_own_preprocessing(teacher_ckpt):
    model = distiller(teacher_ckpt, TEACHER_DP)
    seen = backbone_inputs(model)
    batch = random_batch(size=16)
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    model(**data, mode='loss')
    assert len(seen) == 1
    torch.testing.assert_close(
        seen[0], teacher_own(batch['inputs']), rtol=0, atol=1e-4)
    # the student still gets its own normalisation
    torch.testing.assert_close(data['inputs'],
                               teacher_own(batch['inputs'], STUDENT_DP))
    assert not torch.allclose(seen[0], data['inputs'], atol=1e-2)


@pytest.mark.parametrize('size', [24, (20, 12)])
def test_teacher_input_size_resizes_as_documented(teacher_ckpt, size):
    model = distiller(teacher_ckpt, TEACHER_DP, teacher_input_size=size)
    seen = backbone_inputs(model)
    batch = random_batch(size=16)
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    model(**data, mode='loss')
    hw = (size, size) if isinstance(size, int) else size
    # a dict teacher resizes as MMPretrain's Resize does by default:
    # bilinear, cv2 (F.interpolate without antialias)
    raw = torch.stack(batch['inputs']).float()
    resized = F.interpolate(
        raw, size=hw, mode='bilinear', align_corners=False, antialias=False)
    assert seen[0].shape[-2:] == hw
    torch.testing.assert_close(
        seen[0], teacher_own(resized), rtol=0, atol=1e-4)


def test_every_teacher_call_goes_through_the_same_path(teacher_ckpt):
    """The live step, HE-DA's / calibration's teacher calls and a second
    (MLKD) view: all adapted."""
    model = distiller(teacher_ckpt, TEACHER_DP, teacher_input_size=20)
    seen = backbone_inputs(model)
    batch = random_batch(size=16)
    inputs = model.data_preprocessor(copy.deepcopy(batch), True)['inputs']
    want = teacher_own(
        F.interpolate(
            torch.stack(batch['inputs']).float(),
            size=(20, 20),
            mode='bilinear',
            align_corners=False))
    model.teacher_logits(inputs)  # HE-DA's teacher
    model.teacher_source.logits(inputs, random_batch()['data_samples'])
    model.teacher_source.logits(inputs, banked=False)  # a strong view
    assert len(seen) == 3
    for tensor in seen:
        torch.testing.assert_close(tensor, want, rtol=0, atol=1e-4)


def test_equal_preprocessing_is_the_computation_of_before(teacher_ckpt):
    for teacher_dp in (None, STUDENT_DP):
        model = distiller(teacher_ckpt, teacher_dp)
        assert model.teacher_source.input_adapter.is_identity
        seen = backbone_inputs(model)
        data = model.data_preprocessor(random_batch(), True)
        assert model.teacher_source.teacher_input(
            data['inputs']) is data['inputs']
        losses = model(**data, mode='loss')
        assert seen[0].data_ptr() == data['inputs'].data_ptr() or \
            torch.equal(seen[0], data['inputs'])
        # the loss as before: the teacher on the batch itself, bit for bit
        with torch.no_grad():
            t = model.teacher.head(model.teacher.extract_feat(data['inputs']))
        s = model.student.head(model.student.extract_feat(data['inputs']))
        assert torch.equal(losses['loss_kd'], KDLoss(temperature=4.0)(s, t))


def test_build_log_states_both_inputs(teacher_ckpt, capsys):
    from mmengine.logging import MMLogger
    MMLogger.get_instance('teacher_input_log', log_level='INFO')
    model = distiller(teacher_ckpt, TEACHER_DP, teacher_input_size=20)
    text = model.teacher_source.input_adapter.describe()
    assert 'Student input: mean=[123.675, 116.28, 103.53]' in text
    assert 'Teacher input: mean=[127.5, 127.5, 127.5]' in text
    assert "20x20" in text and "mode='bilinear'" in text
    assert 'channels as loaded (BGR)' in text


def test_zoo_teacher_with_local_checkpoint_and_offline_error(
        tmp_path, monkeypatch):
    from urllib.error import URLError

    from mmpretrain.apis import ModelHub
    name = 'regnetx-400mf_8xb128_in1k'
    url = ModelHub.get(name).weights
    teacher = build_model(ModelHub.get(name).config.model)
    path = str(tmp_path / 'regnet.pth')
    torch.save(dict(state_dict=teacher.state_dict()), path)
    cfg = dict(
        type='EnergyKDDistiller',
        student=tiny_classifier(1000, base=4),
        teacher=name,
        teacher_ckpt=path,
        distill_losses=dict(loss_kd=dict(type='KDLoss')),
        data_preprocessor=dict(
            type='mmpretrain.ClsDataPreprocessor', **STUDENT_DP))
    model = build_model(cfg)
    assert model.frozen_teacher.checkpoint == path
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher.state_dict()[key]), key
    # RegNetX's own preprocessing: BGR mean / std, no channel swap, 224 px
    adapted = model.teacher_source.input_adapter.teacher
    assert adapted.mean == pytest.approx((103.53, 116.28, 123.675))
    assert not adapted.to_rgb and adapted.size == (224, 224)

    # no teacher_ckpt: the published weights, which cannot be downloaded

    def offline(url, dst, *args, **kwargs):
        raise URLError('offline')

    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.setattr(torch.hub, 'download_url_to_file', offline)
    cfg['teacher_ckpt'] = None
    with pytest.raises(ConnectionError) as err:
        build_model(cfg)
    assert url in str(err.value) and 'model.teacher_ckpt=' in str(err.value)
    assert name in str(err.value)
