import math

import pytest
import torch

from mmenergykd.models.energy import (assign_energy_groups, energy_score,
                                      energy_thresholds, group_shares,
                                      sorted_index_thresholds,
                                      uncrossed_thresholds)


def test_energy_score_known_value():
    # E = -T * log(sum exp(z / T)); for z = (0, 0), T = 1: -log 2.
    value = energy_score(torch.zeros(1, 2), temperature=1.0)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(-math.log(2.0), abs=1e-7)


def test_energy_score_formula_and_temperature():
    logits = torch.randn(6, 11, dtype=torch.float64)
    temp = 4.0
    expected = [
        -temp * math.log(sum(math.exp(v / temp) for v in row.tolist()))
        for row in logits
    ]
    got = energy_score(logits, temp)
    assert torch.allclose(
        got.double(), torch.tensor(expected, dtype=torch.float64), atol=1e-5)


def test_energy_score_large_logits_finite():
    logits = torch.tensor([[1e4, -1e4, 0.0]], dtype=torch.float16)
    value = energy_score(logits, 4.0)
    assert torch.isfinite(value).all()
    assert value.item() == pytest.approx(-1e4, rel=1e-3)


def test_sorted_index_rule():
    energies = torch.tensor([5., 1., 9., 3., 7., 2., 8., 4., 6., 0.])
    ordered = sorted(energies.tolist())
    low, high = sorted_index_thresholds(energies, 0.2, 0.3)
    assert low == ordered[int(10 * 0.2)]
    assert high == ordered[10 - int(10 * 0.3) - 1]
    groups = assign_energy_groups(energies, torch.tensor(low),
                                  torch.tensor(high))
    assert (groups == 0).sum() == 2 and (groups == 2).sum() == 3
    assert set(energies[groups == 0].tolist()) == {0., 1.}
    assert set(energies[groups == 2].tolist()) == {7., 8., 9.}


def test_sorted_index_edges():
    energies = torch.arange(5.)
    assert sorted_index_thresholds(energies, 0.0, 0.0) == (0.0, 4.0)
    low, high = sorted_index_thresholds(energies, 1.0, 1.0)
    assert low == math.inf and high == -math.inf
    with pytest.raises(ValueError, match='high_ratio'):
        sorted_index_thresholds(energies, 0.2, 1.5)


def test_sample_temperatures_refuses_non_finite_teacher_logits():
    from mmenergykd.models.losses import EnergyDKDLoss, EnergyKDLoss
    logits = torch.randn(4, 5)
    logits[1, 2] = float('nan')
    for loss in (EnergyKDLoss(), EnergyDKDLoss()):
        loss.set_thresholds(-3.0, -1.0)
        with pytest.raises(ValueError, match='non-finite'):
            loss.sample_temperatures(logits)
        with pytest.raises(ValueError, match='non-finite'):
            loss.energy_groups(logits.nan_to_num(nan=float('inf')))


def test_device_rule_equals_host_rule():
    energies = torch.randn(37)
    for low_ratio, high_ratio in ((0.2, 0.2), (0.0, 0.5), (0.1, 0.3)):
        low_t, high_t = energy_thresholds(energies, low_ratio, high_ratio)
        assert (low_t.item(), high_t.item()) == sorted_index_thresholds(
            energies, low_ratio, high_ratio)


@pytest.mark.parametrize('low_ratio', [0.3, 0.5, 0.7])
def test_uncrossed_thresholds_keep_the_split(low_ratio):
    # Ratios adding up to exactly 1 cross the raw thresholds; the uncrossed
    # ones must split the calibration samples exactly as the raw rule does
    # (written out: the first int(N * low_ratio) sorted samples are low,
    # the last int(N * high_ratio) high).
    energies = torch.randperm(20).float()
    high_ratio = 1.0 - low_ratio
    raw_low, raw_high = energy_thresholds(energies, low_ratio, high_ratio)
    assert raw_low > raw_high
    low, high = uncrossed_thresholds(raw_low, raw_high)
    assert low <= high
    groups = assign_energy_groups(energies, low, high)
    order = torch.argsort(energies)
    num_low = int(20 * low_ratio)
    assert (groups[order[:num_low]] == 0).all()
    assert (groups[order[num_low:]] == 2).all()


def test_uncrossed_thresholds_infinite_edges():
    inf = torch.tensor(math.inf)
    low, high = uncrossed_thresholds(inf, torch.tensor(3.0))
    assert low == high == math.inf  # low_ratio 1: every sample low
    low, high = uncrossed_thresholds(torch.tensor(0.0), -inf)
    assert low == high == -math.inf  # high_ratio 1: every sample high
    low, high = uncrossed_thresholds(torch.tensor(1.0), torch.tensor(2.0))
    assert (low.item(), high.item()) == (1.0, 2.0)  # not crossed: unchanged


def test_group_shares_formula():
    groups = torch.tensor([0, 1, 1, 2, 2, 2, 1, 0])
    shares = [s.item() for s in group_shares(groups)]
    assert shares == [2 / 8, 3 / 8, 3 / 8]
