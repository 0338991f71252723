"""Teacher logits are checked once: where they are produced in a
distillation step, by each loss when it is used on its own."""
import math

import pytest
import torch
from mmpretrain.structures import DataSample
from torch import nn

import mmenergykd  # noqa: F401
from mmenergykd.models.augments import HighEnergyAugment
from mmenergykd.models.distillers import DistillLosses
from mmenergykd.models.energy import EnergyConsumer
from mmenergykd.models.losses import (DKDLoss, EnergyDKDLoss, EnergyKDLoss,
                                      EnergyMLKDLoss, KDLoss, MLKDLoss)
from mmenergykd.utils.validation import teacher_logits_checked

LOSSES = [
    KDLoss, DKDLoss, MLKDLoss, EnergyKDLoss, EnergyDKDLoss, EnergyMLKDLoss
]


def nan_inputs(cls):
    """Arguments of ``cls``'s forward with one NaN teacher logit."""
    torch.manual_seed(0)
    student, teacher = torch.randn(4, 10), torch.randn(4, 10)
    teacher[1, 3] = math.nan
    if cls.distill_inputs[0] == 'student_weak':
        return (student, student.clone(), teacher, teacher.clone())
    labels = torch.tensor([0, 1, 2, 3])
    return (student, teacher) + (
        (labels, ) if 'gt_labels' in cls.distill_inputs else ())


@pytest.mark.parametrize('cls', LOSSES)
def test_a_loss_on_its_own_refuses_nan_teacher_logits(cls):
    loss = cls()
    if isinstance(loss, EnergyConsumer):
        loss.set_thresholds(-3.0, -1.0)
    args = nan_inputs(cls)
    with pytest.raises(ValueError, match='non-finite'):
        loss(*args)
    # in a distillation step the check was made where the logits came from:
    # no error (and no device sync), NaN out
    with teacher_logits_checked():
        assert not torch.isfinite(loss(*args))
    with pytest.raises(ValueError, match='non-finite'):
        loss(*args)  # the context is left behind


def test_heda_energies_refuse_nan_teacher_logits_on_their_own():
    logits = torch.randn(4, 10)
    logits[0, 0] = math.nan
    heda = HighEnergyAugment()
    with pytest.raises(ValueError, match='non-finite'):
        heda.energies(logits)
    with teacher_logits_checked():
        assert torch.isnan(heda.energies(logits)[0])


class OwnLoss(nn.Module):
    """A user's loss: nothing to switch off, run as it is."""

    distill_inputs = ('student_logits', 'teacher_logits')

    def forward(self, student_logits, teacher_logits):
        return (student_logits - teacher_logits).pow(2).mean()


def test_distill_losses_run_inside_the_checked_context():
    losses = DistillLosses(
        dict(
            loss_kd=dict(type='KDLoss'),
            loss_dkd=dict(type='DKDLoss'),
            loss_own=OwnLoss()))
    student, teacher, labels = nan_inputs(DKDLoss)
    samples = [labelled_sample(int(label)) for label in labels]
    values = losses([student], [teacher], {}, samples)
    assert set(values) == {'loss_kd', 'loss_dkd', 'loss_own'}
    assert all(not torch.isfinite(v) for v in values.values())
    # outside the step, the same built loss refuses them again
    with pytest.raises(ValueError, match='non-finite'):
        losses['loss_kd'](student, teacher)


def labelled_sample(label: int):
    """A data sample holding one class label."""
    return DataSample().set_gt_label(label)
