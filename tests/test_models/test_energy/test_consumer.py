import math
import warnings

import pytest
import torch

from mmenergykd.models.augments import HighEnergyAugment
from mmenergykd.models.energy import EnergyConsumer, energy_score
from mmenergykd.models.losses import (DKDLoss, EnergyDKDLoss, EnergyKDLoss,
                                      KDLoss)


def test_groups_follow_the_thresholds():
    consumer = EnergyConsumer(energy_temperature=2.0)
    logits = torch.randn(32, 7)
    consumer.set_thresholds(-3.0, -2.5)
    # written out: E = -T logsumexp(z / T), low E < -3, high E > -2.5
    energies = -2.0 * torch.logsumexp(logits / 2.0, dim=1)
    expected = torch.ones(32, dtype=torch.long)
    expected[energies > -2.5] = 2
    expected[energies < -3.0] = 0
    assert torch.equal(consumer.energy_groups(logits), expected)
    # the same groups from energies handed in (computed once a step)
    assert torch.equal(consumer.energy_groups(logits, energies), expected)


def test_set_thresholds_refuses_crossed_and_nan():
    consumer = EnergyConsumer()
    with pytest.raises(ValueError, match='low <= high'):
        consumer.set_thresholds(2.0, 1.0)
    with pytest.raises(ValueError, match='NaN'):
        consumer.set_thresholds(math.nan, 1.0)
    assert not consumer.is_calibrated
    consumer.set_thresholds(1.0, 1.0)  # equal: an empty middle group
    assert consumer.is_calibrated


@pytest.mark.parametrize('make', [
    lambda: EnergyKDLoss(), lambda: EnergyDKDLoss(),
    lambda: HighEnergyAugment()
])
def test_energy_losses_and_heda_share_the_base(make):
    consumer = make()
    assert isinstance(consumer, EnergyConsumer)
    with pytest.raises(ValueError, match='low <= high'):
        consumer.set_thresholds(0.5, -0.5)


def test_settings_change_is_reported_and_survives_state_dict():
    loss = EnergyKDLoss(low_ratio=0.2, high_ratio=0.2)
    loss.set_thresholds(-1.0, 1.0)
    assert loss.calibration_settings_change() is None
    other = EnergyKDLoss(low_ratio=0.2, high_ratio=0.3)
    other.load_state_dict(loss.state_dict())
    assert other.is_calibrated
    assert other.calibration_settings_change() == 'high_ratio 0.2 -> 0.3'


def test_old_state_dicts_load_strictly():
    # HE-DA checkpoints written before the consumer base had no low
    # threshold and no calibration record.
    heda = HighEnergyAugment()
    heda.load_state_dict({'high_threshold': torch.tensor(1.5)})
    assert heda.is_calibrated
    assert heda.low_threshold.item() == -math.inf
    assert heda.calibration_settings_change() is None


def test_uncalibrated_batches_use_their_own_quantiles_once_warned():
    consumer = EnergyConsumer(low_ratio=0.25, high_ratio=0.25)
    logits = torch.randn(8, 5)
    with pytest.warns(UserWarning, match='not set'):
        groups = consumer.energy_groups(logits)
    ordered = torch.argsort(energy_score(logits, 4.0))
    assert (groups[ordered[:2]] == 0).all()
    assert (groups[ordered[-2:]] == 2).all()
    assert (groups[ordered[2:-2]] == 1).all()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        consumer.energy_groups(logits)  # warned once only


def test_non_finite_logits_refused_unless_checked_elsewhere():
    consumer = EnergyConsumer()
    logits = torch.randn(4, 5)
    logits[0, 0] = math.nan
    with pytest.raises(ValueError, match='non-finite'):
        consumer.energies(logits)
    assert torch.isnan(consumer.energies(logits, check_finite=False)[0])


@pytest.mark.parametrize('loss, extra',
                         [(KDLoss(), ()), (EnergyKDLoss(), ()),
                          (DKDLoss(), (torch.zeros(0, dtype=torch.long), )),
                          (EnergyDKDLoss(),
                           (torch.zeros(0, dtype=torch.long), ))])
def test_every_loss_refuses_an_empty_batch(loss, extra):
    empty = torch.zeros(0, 10)
    with pytest.raises(ValueError, match='empty batch'):
        loss(empty, empty, *extra)
