"""TeacherLogitsCheck: the one protocol for 'this module checks teacher
logits', on every loss and energy consumer, switched off by the distiller."""
import math

import pytest
import torch
from torch import nn

import mmenergykd  # noqa: F401
from mmenergykd.models.augments import HighEnergyAugment
from mmenergykd.models.distillers.distill_losses import build_distill_losses
from mmenergykd.models.losses import (DKDLoss, EnergyDKDLoss, EnergyKDLoss,
                                      EnergyMLKDLoss, KDLoss, MLKDLoss)
from mmenergykd.models.utils import TeacherLogitsCheck

LOSSES = [
    KDLoss, DKDLoss, MLKDLoss, EnergyKDLoss, EnergyDKDLoss, EnergyMLKDLoss
]


@pytest.mark.parametrize('cls', LOSSES + [HighEnergyAugment])
def test_every_teacher_reader_has_the_check_on_by_default(cls):
    module = cls()
    assert isinstance(module, TeacherLogitsCheck)
    assert module.check_finite is True


@pytest.mark.parametrize('cls', [KDLoss, DKDLoss])
def test_a_loss_on_its_own_refuses_nan_teacher_logits(cls):
    student = torch.randn(4, 10)
    teacher = torch.randn(4, 10)
    teacher[1, 3] = math.nan
    labels = torch.tensor([0, 1, 2, 3])
    args = (student, teacher) + ((labels, ) if cls is DKDLoss else ())
    with pytest.raises(ValueError, match='finite|NaN'):
        cls()(*args)
    loss = cls()
    loss.check_finite = False  # what the distiller does: no error, NaN out
    assert not torch.isfinite(loss(*args))


class OwnLoss(nn.Module):
    """A user's loss outside the protocol: left as it is."""

    distill_inputs = ('student_logits', 'teacher_logits')

    def forward(self, student_logits, teacher_logits):
        return (student_logits - teacher_logits).pow(2).mean()


def test_distiller_turns_the_check_off_on_protocol_members_only():
    losses = build_distill_losses(
        dict(
            loss_kd=dict(type='KDLoss'),
            loss_energykd=dict(type='EnergyKDLoss'),
            loss_own=OwnLoss()))
    assert losses['loss_kd'].check_finite is False
    assert losses['loss_energykd'].check_finite is False
    assert not hasattr(losses['loss_own'], 'check_finite')
