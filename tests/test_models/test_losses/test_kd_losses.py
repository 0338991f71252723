"""KD and Energy KD against the formulas of method.md, written out here."""
import math
import warnings

import pytest
import torch

from mmenergykd.models.losses import EnergyKDLoss, KDLoss


def softmax_row(row, temp):
    exps = [math.exp(v / temp) for v in row]
    total = sum(exps)
    return [e / total for e in exps]


def kd_formula(student, teacher, temps, weight):
    """weight * mean_i T_i^2 * sum_c p_t log(p_t / p_s)."""
    total = 0.0
    for s_row, t_row, temp in zip(student.tolist(), teacher.tolist(), temps):
        p_s = softmax_row(s_row, temp)
        p_t = softmax_row(t_row, temp)
        kl = sum(pt * math.log(pt / ps) for pt, ps in zip(p_t, p_s))
        total += temp**2 * kl
    return weight * total / len(temps)


def energy_formula(row, temp=4.0):
    return -temp * math.log(sum(math.exp(v / temp) for v in row))


@pytest.fixture
def logits():
    gen = torch.Generator().manual_seed(0)
    return (torch.randn(10, 7, generator=gen) * 3,
            torch.randn(10, 7, generator=gen) * 3)


def test_kd_matches_formula(logits):
    student, teacher = logits
    got = KDLoss(temperature=4.0, loss_weight=0.9)(student, teacher)
    assert got.item() == pytest.approx(
        kd_formula(student, teacher, [4.0] * 10, 0.9), rel=1e-5)


@pytest.mark.parametrize(
    'temps', [(6.0, 4.0, 2.0), (2.0, 4.0, 6.0)],
    ids=['paper_direction', 'release_direction'])
def test_energy_kd_matches_formula_with_explicit_thresholds(logits, temps):
    student, teacher = logits
    energies = [energy_formula(r) for r in teacher.tolist()]
    ordered = sorted(energies)
    tau_low, tau_high = ordered[3], ordered[7]
    loss = EnergyKDLoss(*temps, energy_temperature=4.0, loss_weight=0.9)
    loss.set_thresholds(tau_low, tau_high)
    expected_t = [
        temps[0] if e < tau_low else temps[2] if e > tau_high else temps[1]
        for e in energies
    ]
    assert loss.sample_temperatures(teacher).tolist() == expected_t
    # both groups are populated, so the two directions really differ
    assert {temps[0], temps[2]} <= set(expected_t)
    assert loss(student, teacher).item() == pytest.approx(
        kd_formula(student, teacher, expected_t, 0.9), rel=1e-5)


def test_paper_and_release_directions_are_mirror_images(logits):
    _, teacher = logits
    energies = sorted(energy_formula(r) for r in teacher.tolist())
    paper = EnergyKDLoss(6.0, 4.0, 2.0)
    release = EnergyKDLoss(2.0, 4.0, 6.0)
    for loss in (paper, release):
        loss.set_thresholds(energies[3], energies[7])
    t_paper = paper.sample_temperatures(teacher)
    t_release = release.sample_temperatures(teacher)
    assert not torch.equal(t_paper, t_release)
    assert torch.equal(t_paper + t_release, torch.full_like(t_paper, 8.0))
    # the default follows the paper's text: low energy -> higher temperature
    default = EnergyKDLoss()
    assert default.low_energy_temperature > default.high_energy_temperature


def test_equal_temperatures_is_exactly_kd(logits):
    student, teacher = logits
    energy = EnergyKDLoss(3.0, 3.0, 3.0, loss_weight=0.7)
    energy.set_thresholds(-9.0, -7.0)
    kd = KDLoss(temperature=3.0, loss_weight=0.7)
    assert torch.equal(energy(student, teacher), kd(student, teacher))


def test_uncalibrated_uses_batch_quantiles_and_warns_once(logits):
    student, teacher = logits
    loss = EnergyKDLoss(6.0, 4.0, 2.0, low_ratio=0.2, high_ratio=0.3)
    with pytest.warns(UserWarning, match='thresholds are not set'):
        temps = loss.sample_temperatures(teacher)
    energies = [energy_formula(r) for r in teacher.tolist()]
    ordered = sorted(energies)
    tau_low, tau_high = ordered[int(10 * 0.2)], ordered[10 - 3 - 1]
    expected = [
        6.0 if e < tau_low else 2.0 if e > tau_high else 4.0 for e in energies
    ]
    assert temps.tolist() == expected
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        loss(student, teacher)  # no second warning


def test_thresholds_are_state_dict_buffers():
    loss = EnergyKDLoss()
    assert not loss.is_calibrated
    loss.set_thresholds(-3.0, -1.0)
    state = loss.state_dict()
    assert state['low_threshold'].item() == -3.0
    fresh = EnergyKDLoss()
    fresh.load_state_dict(state)
    assert fresh.is_calibrated and fresh.high_threshold.item() == -1.0


@pytest.mark.parametrize('kwargs, name', [
    (dict(low_energy_temperature=0.0), 'low_energy_temperature'),
    (dict(mid_temperature=-1.0), 'mid_temperature'),
    (dict(high_energy_temperature=float('nan')), 'high_energy_temperature'),
    (dict(energy_temperature=0.0), 'energy_temperature'),
    (dict(low_ratio=-0.1), 'low_ratio'),
    (dict(high_ratio=1.2), 'high_ratio'),
    (dict(low_ratio=0.6, high_ratio=0.5), 'low_ratio'),
    (dict(loss_weight=-1.0), 'loss_weight'),
])
def test_invalid_settings_name_the_setting(kwargs, name):
    with pytest.raises(ValueError, match=name):
        EnergyKDLoss(**kwargs)


def test_invalid_logits():
    loss = KDLoss()
    with pytest.raises(ValueError, match='num_classes'):
        loss(torch.randn(4, 5), torch.randn(4, 6))
    bad = torch.randn(4, 5)
    bad[1, 2] = float('nan')
    with pytest.raises(ValueError, match='non-finite'):
        loss(torch.randn(4, 5), bad)
    with pytest.raises(ValueError, match='temperature'):
        KDLoss(temperature=0)


def test_large_logits_and_low_precision_give_finite_grads():
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        student = (torch.randn(3, 5) * 1e4).to(dtype).requires_grad_()
        teacher = (torch.randn(3, 5) * 1e4).to(dtype)
        loss = EnergyKDLoss(6.0, 4.0, 2.0)
        loss.set_thresholds(-5e3, 5e3)
        value = loss(student, teacher)
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(student.grad).all()
