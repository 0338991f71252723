"""DeiT's hard distillation against its formula, written out here."""
import math

import pytest
import torch

from mmenergykd.models.losses.hard_distill_loss import HardDistillLoss
from mmenergykd.registry import MODELS


def hard_formula(student, teacher, weight, smoothing=0.0):
    """weight * mean_i [-(1-e) log p_i[argmax t_i] - e/C sum_c log p_ic]."""
    total = 0.0
    for s_row, t_row in zip(student.tolist(), teacher.tolist()):
        target = max(range(len(t_row)), key=lambda c: t_row[c])
        norm = math.log(sum(math.exp(v) for v in s_row))
        log_p = [v - norm for v in s_row]
        total += -(1 - smoothing) * log_p[target] \
            - smoothing * sum(log_p) / len(log_p)
    return weight * total / len(student)


@pytest.fixture
def logits():
    gen = torch.Generator().manual_seed(0)
    return (torch.randn(9, 6, generator=gen) * 3,
            torch.randn(9, 6, generator=gen) * 3)


@pytest.mark.parametrize('weight,smoothing', [(1.0, 0.0), (0.5, 0.0),
                                              (0.5, 0.1)])
def test_matches_formula(logits, weight, smoothing):
    student, teacher = logits
    loss = HardDistillLoss(loss_weight=weight, label_smoothing=smoothing)
    want = hard_formula(student, teacher, weight, smoothing)
    assert loss(student, teacher).item() == pytest.approx(want, rel=1e-5)


def test_only_the_teachers_argmax_matters(logits):
    student, teacher = logits
    loss = HardDistillLoss()
    # a sharper or shifted teacher with the same decisions: the same loss
    assert loss(student, teacher * 5 + 2).item() == pytest.approx(
        loss(student, teacher).item(), rel=1e-6)
    student = student.clone().requires_grad_(True)
    teacher = teacher.clone().requires_grad_(True)
    loss(student, teacher).backward()
    assert teacher.grad is None and student.grad.abs().sum() > 0


def test_registered_and_checked():
    loss = MODELS.build(dict(type='HardDistillLoss', loss_weight=0.5))
    assert loss.distill_inputs == ('student_logits', 'teacher_logits')
    with pytest.raises(ValueError, match='loss_weight'):
        HardDistillLoss(loss_weight=-1)
    with pytest.raises(ValueError, match='label_smoothing'):
        HardDistillLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match='num_classes'):
        HardDistillLoss()(torch.zeros(2, 3), torch.zeros(2, 4))
