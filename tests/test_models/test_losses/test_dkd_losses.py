"""DKD and Energy DKD against the DKD formula, written out here."""
import math

import pytest
import torch

from mmenergykd.models.losses import DKDLoss, EnergyDKDLoss


def dkd_formula(student, teacher, labels, temps, alpha, beta, weight):
    """mean_i T_i^2 (alpha * TCKD_i + beta * NCKD_i), as in Zhao et al."""
    total = 0.0
    for s_row, t_row, y, temp in zip(student.tolist(), teacher.tolist(),
                                     labels.tolist(), temps):

        def probs(row):
            exps = [math.exp(v / temp) for v in row]
            return [e / sum(exps) for e in exps]

        p_s, p_t = probs(s_row), probs(t_row)
        b_s = [p_s[y], 1 - p_s[y]]
        b_t = [p_t[y], 1 - p_t[y]]
        tckd = sum(t * math.log(t / s) for t, s in zip(b_t, b_s))
        others = [c for c in range(len(s_row)) if c != y]
        q_s = [p_s[c] / (1 - p_s[y]) for c in others]
        q_t = [p_t[c] / (1 - p_t[y]) for c in others]
        nckd = sum(t * math.log(t / s) for t, s in zip(q_t, q_s))
        total += temp**2 * (alpha * tckd + beta * nckd)
    return weight * total / len(temps)


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(1)
    return (torch.randn(9, 6, generator=gen) * 2,
            torch.randn(9, 6, generator=gen) * 2,
            torch.randint(0, 6, (9, ), generator=gen))


def test_dkd_matches_formula(batch):
    student, teacher, labels = batch
    got = DKDLoss(
        alpha=1.0, beta=8.0, temperature=4.0, loss_weight=0.5)(student,
                                                               teacher, labels)
    expected = dkd_formula(student, teacher, labels, [4.0] * 9, 1.0, 8.0, 0.5)
    assert got.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize('temps', [(6.0, 4.0, 2.0), (2.0, 4.0, 6.0)])
def test_energy_dkd_matches_formula(batch, temps):
    student, teacher, labels = batch
    energies = [
        -4.0 * math.log(sum(math.exp(v / 4.0) for v in r))
        for r in teacher.tolist()
    ]
    ordered = sorted(energies)
    tau_low, tau_high = ordered[2], ordered[6]
    loss = EnergyDKDLoss(
        alpha=1.0,
        beta=8.0,
        low_energy_temperature=temps[0],
        mid_temperature=temps[1],
        high_energy_temperature=temps[2],
        loss_weight=1.0)
    loss.set_thresholds(tau_low, tau_high)
    expected_t = [
        temps[0] if e < tau_low else temps[2] if e > tau_high else temps[1]
        for e in energies
    ]
    got = loss(student, teacher, labels)
    assert got.item() == pytest.approx(
        dkd_formula(student, teacher, labels, expected_t, 1.0, 8.0, 1.0),
        rel=1e-5)


def test_energy_dkd_equal_temperatures_is_dkd(batch):
    student, teacher, labels = batch
    energy = EnergyDKDLoss(2.0, 6.0, 3.0, 3.0, 3.0)
    energy.set_thresholds(-8.0, -6.0)
    plain = DKDLoss(alpha=2.0, beta=6.0, temperature=3.0)
    assert torch.allclose(
        energy(student, teacher, labels),
        plain(student, teacher, labels),
        rtol=0,
        atol=0)


def test_energy_dkd_takes_dkd_temperature_as_mid(batch):
    # A DKDLoss config plus the energy settings: `temperature` is the base
    # (middle-energy) temperature.
    student, teacher, labels = batch
    alias = EnergyDKDLoss(
        alpha=1.0,
        beta=8.0,
        temperature=3.0,
        low_energy_temperature=5.0,
        high_energy_temperature=1.5)
    named = EnergyDKDLoss(
        alpha=1.0,
        beta=8.0,
        mid_temperature=3.0,
        low_energy_temperature=5.0,
        high_energy_temperature=1.5)
    assert alias.group_temperatures.tolist() == [5.0, 3.0, 1.5]
    for loss in (alias, named):
        loss.set_thresholds(-8.0, -6.0)
    assert torch.equal(
        alias(student, teacher, labels), named(student, teacher, labels))
    with pytest.raises(ValueError, match='set only one'):
        EnergyDKDLoss(temperature=3.0, mid_temperature=5.0)


def test_dkd_invalid():
    with pytest.raises(ValueError, match='beta'):
        DKDLoss(beta=-1)
    with pytest.raises(ValueError, match='gt_labels'):
        DKDLoss()(torch.randn(3, 4), torch.randn(3, 4), torch.zeros(2))
