import copy

import pytest
import torch

from mmenergykd.models.energy import energy_score
from tests.helpers import (build_model, random_batch,
                           save_openmmlab_checkpoint, save_tiny_teacher,
                           tiny_classifier, tiny_distiller_cfg)


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    return save_tiny_teacher(str(tmp_path_factory.mktemp('t') / 't.pth'))


def test_teacher_loaded_frozen_eval_and_out_of_state_dict(teacher_ckpt):
    model = build_model(tiny_distiller_cfg(teacher_ckpt))
    saved = torch.load(teacher_ckpt, weights_only=True)['state_dict']
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, saved[key]), key
    model.train()
    assert not model.teacher.training
    assert all(m.training is False for m in model.teacher.modules())
    assert model.student.training
    assert all(not p.requires_grad for p in model.teacher.parameters())
    # light checkpoints: no teacher weights, nothing of it in parameters()
    assert not any(k.startswith('teacher') for k in model.state_dict())
    assert any(k.startswith('student.') for k in model.state_dict())
    teacher_ids = {id(p) for p in model.teacher.parameters()}
    assert not teacher_ids & {id(p) for p in model.parameters()}
    # init_weights must not touch the loaded teacher
    model.init_weights()
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, saved[key]), key


def test_loss_mode_outputs_and_no_teacher_gradient(teacher_ckpt):
    model = build_model(tiny_distiller_cfg(teacher_ckpt))
    model.train()
    data = model.data_preprocessor(random_batch(), True)
    losses = model(**data, mode='loss')
    assert set(losses) >= {
        'loss_cls', 'loss_energykd', 'energy_low', 'energy_mid', 'energy_high'
    }
    shares = sum(losses[k]
                 for k in ('energy_low', 'energy_mid', 'energy_high'))
    assert shares.item() == pytest.approx(1.0)
    total = losses['loss_cls'] + losses['loss_energykd']
    total.backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert any(p.grad is not None for p in model.student.parameters())
    # teacher running stats are not updated by training steps
    bn = next(m for m in model.teacher.modules()
              if isinstance(m, torch.nn.BatchNorm2d))
    before = bn.running_mean.clone()
    model(**data, mode='loss')
    assert torch.equal(before, bn.running_mean)


def test_loss_values_match_independent_computation(teacher_ckpt):
    model = build_model(
        tiny_distiller_cfg(
            teacher_ckpt,
            distill_losses=dict(
                loss_kd=dict(type='KDLoss', temperature=4.0, loss_weight=0.9)),
            student_loss_weight=0.1))
    model.train()
    data = model.data_preprocessor(random_batch(), True)
    losses = model(**data, mode='loss')
    with torch.no_grad():
        s = model.student.head(model.student.extract_feat(data['inputs']))
        t = model.teacher.head(model.teacher.extract_feat(data['inputs']))
    labels = torch.cat([d.gt_label for d in data['data_samples']])
    ce = torch.nn.functional.cross_entropy(s, labels)
    kl = (torch.softmax(t / 4, 1) *
          (torch.log_softmax(t / 4, 1) - torch.log_softmax(s / 4, 1))).sum(1)
    assert losses['loss_cls'].item() == pytest.approx(
        0.1 * ce.item(), rel=1e-5)
    assert losses['loss_kd'].item() == pytest.approx(
        0.9 * 16 * kl.mean().item(), rel=1e-5)


def test_predict_and_tensor_use_the_student(teacher_ckpt):
    model = build_model(tiny_distiller_cfg(teacher_ckpt))
    model.eval()
    data = model.data_preprocessor(random_batch(), False)
    preds = model(**data, mode='predict')
    expected = model.student(data['inputs'], mode='tensor')
    assert torch.allclose(model(data['inputs'], mode='tensor'), expected)
    assert torch.allclose(
        torch.stack([p.pred_score for p in preds]), torch.softmax(expected, 1))


def test_dkd_warmup_from_training_progress(teacher_ckpt):
    from mmengine.logging import MessageHub
    model = build_model(
        tiny_distiller_cfg(
            teacher_ckpt,
            distill_losses=dict(loss_dkd=dict(type='DKDLoss')),
            loss_warmup_epochs=dict(loss_dkd=4)))
    data = model.data_preprocessor(random_batch(), True)
    hub = MessageHub.get_current_instance()
    values = []
    for epoch in (0, 1, 5):
        hub.update_info('epoch', epoch)
        values.append(model(**data, mode='loss')['loss_dkd'].item())
    full = values[2]
    assert values[0] == pytest.approx(full / 4, rel=1e-5)
    assert values[1] == pytest.approx(full / 2, rel=1e-5)
    hub.update_info('epoch', 0)


def test_wrong_architecture_lists_mismatch(tmp_path):
    wrong = build_model(tiny_classifier(5, base=8, depth=34))
    path = save_openmmlab_checkpoint(wrong, str(tmp_path / 'wrong.pth'))
    with pytest.raises(ValueError) as err:
        build_model(tiny_distiller_cfg(path))
    message = str(err.value)
    assert 'unexpected keys' in message
    assert 'backbone.layer1.2.conv1.weight' in message


def test_class_count_mismatch(tmp_path):
    ckpt = save_tiny_teacher(str(tmp_path / 't10.pth'), num_classes=10)
    with pytest.raises(ValueError, match='shape mismatches.*head.fc.weight'):
        build_model(tiny_distiller_cfg(ckpt))
    cfg = tiny_distiller_cfg(None)
    cfg['teacher'] = tiny_classifier(10, base=8)
    with pytest.raises(ValueError, match='num_classes=10.*num_classes=5'):
        build_model(cfg)


def test_missing_ckpt_and_distiller_ckpt_as_teacher(tmp_path, teacher_ckpt):
    with pytest.raises(FileNotFoundError, match='teacher_ckpt'):
        build_model(tiny_distiller_cfg(str(tmp_path / 'nope.pth')))
    model = build_model(tiny_distiller_cfg(teacher_ckpt))
    path = save_openmmlab_checkpoint(model, str(tmp_path / 'distiller.pth'))
    with pytest.raises(ValueError, match='export_student'):
        build_model(tiny_distiller_cfg(path))


def test_unreachable_url_suggests_local_path(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    cfg = tiny_distiller_cfg('http://127.0.0.1:9/teacher.pth')
    with pytest.raises(ConnectionError, match='local file path'):
        build_model(cfg)


def test_non_finite_teacher_logits_raise(tmp_path):
    teacher = build_model(tiny_classifier(5, base=8))
    state = teacher.state_dict()
    state['head.fc.bias'] = state['head.fc.bias'].clone().fill_(float('nan'))
    path = str(tmp_path / 'nan.pth')
    torch.save(dict(state_dict=state), path)
    # refused when loading the checkpoint
    with pytest.raises(
            ValueError,
            match=r'non-finite \(NaN / Inf\) weights'
            r' in 1 tensors: head.fc.bias'):
        build_model(tiny_distiller_cfg(path))
    # and, from weights that go bad later, in the training step
    model = build_model(tiny_distiller_cfg(None))
    model.teacher.head.fc.bias.data.fill_(float('nan'))
    data = model.data_preprocessor(random_batch(), True)
    with pytest.raises(ValueError, match='non-finite'):
        model(**data, mode='loss')


def test_mmpretrain_config_reference_as_model(teacher_ckpt):
    cfg = tiny_distiller_cfg(None)
    cfg['student'] = 'mmpretrain::resnet/resnet18_8xb32_in1k.py'
    cfg['teacher'] = copy.deepcopy(cfg['student'])
    cfg['data_preprocessor'] = None
    model = build_model(cfg)
    assert model.student.backbone.depth == 18
    assert model.student.head.num_classes == 1000


def test_group_shares_follow_thresholds(teacher_ckpt):
    model = build_model(tiny_distiller_cfg(teacher_ckpt))
    data = model.data_preprocessor(random_batch(num=8), True)
    with torch.no_grad():
        t = model.teacher.head(model.teacher.extract_feat(data['inputs']))
    energies = energy_score(t, 4.0).sort().values
    model.distill_losses['loss_energykd'].set_thresholds(
        energies[2].item(), energies[5].item())
    losses = model(**data, mode='loss')
    assert losses['energy_low'].item() == pytest.approx(2 / 8)
    assert losses['energy_high'].item() == pytest.approx(2 / 8)


class _LabelMarginLoss(torch.nn.Module):
    """A user-defined distill loss: declares what it takes."""
    distill_inputs = ('student_logits', 'teacher_logits', 'gt_labels')

    def forward(self, student_logits, teacher_logits, gt_labels):
        self.seen = (student_logits.detach(), teacher_logits, gt_labels)
        picked = student_logits.gather(1, gt_labels[:, None])
        return (teacher_logits.max(1).values - picked.squeeze(1)).mean()


def test_user_defined_distill_loss_gets_its_inputs(teacher_ckpt):
    model = build_model(tiny_distiller_cfg(teacher_ckpt))
    custom = _LabelMarginLoss()
    model.set_distill_losses(dict(loss_margin=custom))
    model.train()
    batch = random_batch()
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    student, teacher, labels = custom.seen
    assert torch.equal(labels,
                       torch.cat([s.gt_label for s in data['data_samples']]))
    torch.testing.assert_close(teacher, model.teacher_logits(data['inputs']))
    expected = (teacher.max(1).values -
                student.gather(1, labels[:, None]).squeeze(1)).mean()
    torch.testing.assert_close(losses['loss_margin'], expected)
    # a module without `distill_inputs` (e.g. a classification loss) is
    # refused: it would be fed teacher logits as if they were labels
    with pytest.raises(
            TypeError,
            match='loss_ce: CrossEntropyLoss is not a '
            'distillation loss'):
        model.set_distill_losses(
            dict(loss_ce=dict(type='mmpretrain.CrossEntropyLoss')))


def test_non_finite_loss_stops_before_the_optimizer_step(teacher_ckpt):
    from mmengine.optim import OptimWrapper
    cfg = tiny_distiller_cfg(teacher_ckpt)
    cfg['distill_losses']['loss_energykd']['loss_weight'] = 1e308  # -> inf
    model = build_model(cfg)
    model.train()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    with pytest.raises(
            ValueError,
            match=r'the training loss is non-finite '
            r'\(loss=inf, loss_cls=[0-9.]+, loss_energykd=inf\)'):
        model.train_step(random_batch(), wrapper)
    for key, value in model.named_parameters():  # no optimizer step
        assert torch.equal(value, before[key]), key
    # under fp16 autocast the AMP loss scaler owns non-finite steps (it
    # skips them and lowers the scale), so the check stands aside
    data = model.data_preprocessor(random_batch(), True)
    with torch.autocast('cpu', dtype=torch.float16):
        losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    assert not torch.isfinite(loss)
    # and it can be turned off
    model.check_finite_loss = False
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    assert not torch.isfinite(loss)


def test_teacher_checkpoint_without_num_batches_tracked_loads(
        teacher_ckpt, tmp_path):
    # Checkpoints from PyTorch < 0.4.1 lack BatchNorm num_batches_tracked;
    # PyTorch's strict load accepts them, and so does the teacher loader.
    full = torch.load(teacher_ckpt, weights_only=True)
    old = {
        k: v
        for k, v in full['state_dict'].items()
        if not k.endswith('num_batches_tracked')
    }
    assert len(old) < len(full['state_dict'])
    path = str(tmp_path / 'old.pth')
    torch.save({'state_dict': old}, path)
    model = build_model(tiny_distiller_cfg(path))
    for key, value in model.teacher.state_dict().items():
        if not key.endswith('num_batches_tracked'):
            assert torch.equal(value, full['state_dict'][key]), key
    # ...but a BatchNorm missing its statistics is still refused
    del old['backbone.bn1.running_mean']
    torch.save({'state_dict': old}, path)
    with pytest.raises(ValueError, match='backbone.bn1.running_mean'):
        build_model(tiny_distiller_cfg(path))


def test_teacher_from_its_pretrained_init_cfg_loads_strictly(teacher_ckpt):
    cfg = tiny_distiller_cfg(teacher_ckpt)
    cfg['teacher_ckpt'] = None
    cfg['teacher']['init_cfg'] = dict(
        type='Pretrained', checkpoint=teacher_ckpt)
    model = build_model(cfg)
    saved = torch.load(teacher_ckpt, weights_only=True)['state_dict']
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, saved[key]), key
    model.init_weights()  # never reloads or re-initialises the teacher
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, saved[key]), key


def test_random_teacher_only_when_allowed():
    cfg = tiny_distiller_cfg(None)
    cfg.pop('teacher_settings')
    with pytest.raises(ValueError, match='`model.teacher_ckpt` is not set'):
        build_model(cfg)
    with pytest.warns(UserWarning, match='random initialisation'):
        build_model(dict(cfg, teacher_settings=dict(allow_random=True)))
