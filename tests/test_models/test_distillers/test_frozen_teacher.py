import pytest
import torch

from mmenergykd.models.distillers import FrozenTeacher
from tests.helpers import build_model, save_tiny_teacher, tiny_classifier


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    return save_tiny_teacher(str(tmp_path_factory.mktemp('t') / 't.pth'))


def test_build_loads_strictly_and_freezes(teacher_ckpt):
    teacher = FrozenTeacher.build(tiny_classifier(base=8), teacher_ckpt)
    saved = torch.load(teacher_ckpt, weights_only=True)['state_dict']
    for key, value in teacher.model.state_dict().items():
        assert torch.equal(value, saved[key]), key
    assert not teacher.model.training
    assert all(not p.requires_grad for p in teacher.model.parameters())
    assert teacher.checkpoint == teacher_ckpt
    assert teacher.num_classes == 5


def test_logits_equal_the_plain_forward_without_grad(teacher_ckpt):
    teacher = FrozenTeacher.build(tiny_classifier(base=8), teacher_ckpt)
    plain = build_model(tiny_classifier(base=8))
    plain.load_state_dict(
        torch.load(teacher_ckpt, weights_only=True)['state_dict'])
    plain.eval()
    images = torch.randn(3, 3, 16, 16, requires_grad=True)
    for mode in (False, True):
        teacher.inference_mode = mode
        logits = teacher.logits(images)
        assert not logits.requires_grad
        assert not logits.is_inference()
        with torch.no_grad():
            expected = plain.head(plain.extract_feat(images))
        assert torch.equal(logits, expected)


def test_wrong_checkpoint_refused(tmp_path, teacher_ckpt):
    with pytest.raises(Exception, match='teacher'):
        FrozenTeacher.build(tiny_classifier(base=16), teacher_ckpt)


def test_no_checkpoint_is_an_error_unless_allowed():
    with pytest.raises(ValueError, match='teacher_ckpt'):
        FrozenTeacher.build(tiny_classifier(base=8))
    with pytest.warns(UserWarning, match='random'):
        teacher = FrozenTeacher.build(
            tiny_classifier(base=8), allow_random=True)
    assert teacher.checkpoint is None


def test_pretrained_init_cfg_is_loaded_strictly(teacher_ckpt):
    cfg = tiny_classifier(base=8)
    cfg['init_cfg'] = dict(type='Pretrained', checkpoint=teacher_ckpt)
    teacher = FrozenTeacher.build(cfg)
    assert teacher.checkpoint == teacher_ckpt
    cfg['init_cfg'] = dict(
        type='Pretrained', checkpoint=teacher_ckpt, prefix='backbone')
    with pytest.raises(ValueError, match='prefix'):
        FrozenTeacher.build(cfg)


def test_non_finite_logits_refused(teacher_ckpt):
    teacher = FrozenTeacher.build(tiny_classifier(base=8), teacher_ckpt)
    teacher.model.head.fc.bias.data[0] = float('nan')
    with pytest.raises(ValueError, match='non-finite'):
        teacher.logits(torch.randn(2, 3, 16, 16))
    teacher.check_finite = False
    assert torch.isnan(teacher.logits(torch.randn(2, 3, 16, 16))).any()


def test_channels_last_format(teacher_ckpt):
    teacher = FrozenTeacher.build(
        tiny_classifier(base=8), teacher_ckpt, channels_last=True)
    images = torch.randn(2, 3, 16, 16)
    assert teacher.format(images).is_contiguous(
        memory_format=torch.channels_last)
    conv = teacher.model.backbone.conv1.weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
