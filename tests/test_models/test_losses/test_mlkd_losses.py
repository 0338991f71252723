# Copyright (c) mmenergykd contributors. All rights reserved.
"""MLKDLoss and EnergyMLKDLoss against a float64 reference written out here.

The reference follows the official MLKD code's total loss term by term
(method.md section 6) with NumPy loops; it shares no code with the package.
"""
import math

import numpy as np
import pytest
import torch

from mmenergykd.models.losses import EnergyMLKDLoss, MLKDLoss
from mmenergykd.models.losses.mlkd_functional import mlkd_confidence_shares
from mmenergykd.registry import MODELS

TEMPS = (4.0, 3.0, 5.0, 2.0, 6.0)


# --------------------------------------------------------------------------
# the float64 reference
def _softmax(row):
    row = row - row.max()
    e = np.exp(row)
    return e / e.sum()


def _ref_kd(s, t, temps):
    """mean_i[T_i^2 * KL(softmax(t_i/T_i) || softmax(s_i/T_i))]."""
    total = 0.0
    for i in range(s.shape[0]):
        p_t = _softmax(t[i] / temps[i])
        p_s = _softmax(s[i] / temps[i])
        kl = sum(p_t[c] * (math.log(p_t[c]) - math.log(p_s[c]))
                 for c in range(s.shape[1]) if p_t[c] > 0)
        total += temps[i]**2 * kl
    return total / s.shape[0]


def _ref_probs(z, temps):
    return np.stack([_softmax(z[i] / temps[i]) for i in range(z.shape[0])])


def _ref_bc(s, t, temps):
    p_s, p_t = _ref_probs(s, temps), _ref_probs(t, temps)
    b = s.shape[0]
    total = 0.0
    for i in range(b):
        for j in range(b):
            total += (p_t[i] @ p_t[j] - p_s[i] @ p_s[j])**2
    return total / b


def _ref_cc(s, t, temps):
    p_s, p_t = _ref_probs(s, temps), _ref_probs(t, temps)
    c = s.shape[1]
    total = 0.0
    for a in range(c):
        for b in range(c):
            total += (p_t[:, a] @ p_t[:, b] - p_s[:, a] @ p_s[:, b])**2
    return total / c


def _ref_masks(t_w):
    probs = _ref_probs(t_w, np.ones(t_w.shape[0]))
    conf = probs.max(axis=1)
    mask = conf <= np.percentile(conf, 50)  # linear interpolation
    cls = probs.sum(axis=0)
    class_mask = cls <= np.percentile(cls, 50)
    return mask, class_mask


def ref_mlkd(s_w, s_s, t_w, t_s, temps=TEMPS, factor=None, w_kd=0.9):
    """The official total loss minus the CE terms, in float64.

    ``factor``: per-sample multiplier of every temperature (Energy MLKD).
    """
    s_w, s_s, t_w, t_s = (
        np.asarray(x, dtype=np.float64) for x in (s_w, s_s, t_w, t_s))
    b = s_w.shape[0]
    factor = np.ones(b) if factor is None else np.asarray(factor, float)
    t0, t1, t2, t3, t4 = (np.full(b, float(t)) * factor for t in temps)
    mask, class_mask = _ref_masks(t_w)
    # The official code multiplies scalar (batch-mean) terms by the boolean
    # mask and takes the mean: the term times the masked share.
    loss_kd_weak = sum(w_kd * np.mean(_ref_kd(s_w, t_w, temp) * mask)
                       for temp in (t0, t1, t2, t3, t4))
    loss_kd_strong = (
        w_kd * _ref_kd(s_s, t_s, t0) + w_kd * _ref_kd(s_s, t_s, t1) +
        w_kd * _ref_kd(s_s, t_s, t2) + w_kd * _ref_kd(s_w, t_w, t3) +
        w_kd * _ref_kd(s_w, t_w, t4))
    loss_cc_weak = sum(w_kd * np.mean(_ref_cc(s_w, t_w, temp) * class_mask)
                       for temp in (t0, t1, t2, t3, t4))
    loss_bc_weak = sum(w_kd * np.mean(_ref_bc(s_w, t_w, temp) * mask)
                       for temp in (t0, t1, t2, t3, t4))
    return loss_kd_weak + loss_kd_strong + loss_cc_weak + loss_bc_weak


def ref_energy(t_w, energy_temperature=4.0):
    t_w = np.asarray(t_w, dtype=np.float64)
    out = []
    for row in t_w:
        z = row / energy_temperature
        out.append(-energy_temperature *
                   (z.max() + math.log(np.exp(z - z.max()).sum())))
    return np.array(out)


def ref_group_temperatures(energies, low, high, temps):
    """T_group per sample: E < low -> low group, E > high -> high group."""
    return np.array([
        temps[0] if e < low else temps[2] if e > high else temps[1]
        for e in energies
    ])


# --------------------------------------------------------------------------
def make_logits(batch=12, classes=10, seed=0, scale=3.0):
    gen = torch.Generator().manual_seed(seed)
    t_w = torch.randn(batch, classes, generator=gen) * scale
    t_s = t_w + torch.randn(batch, classes, generator=gen) * scale / 2
    s_w = torch.randn(batch, classes, generator=gen) * scale
    s_s = torch.randn(batch, classes, generator=gen) * scale
    return s_w, s_s, t_w, t_s


def np64(*tensors):
    return [t.detach().double().numpy() for t in tensors]


def explicit_thresholds(t_w):
    """Thresholds between sorted energies, so float32 and float64 agree."""
    e = np.sort(ref_energy(t_w.double().numpy()))
    n = len(e)
    low = (e[n // 4 - 1] + e[n // 4]) / 2
    high = (e[n - n // 4 - 1] + e[n - n // 4]) / 2
    return low, high


@pytest.mark.parametrize('batch,classes,seed', [(12, 10, 0), (7, 5, 1),
                                                (16, 100, 2)])
def test_mlkd_matches_reference(batch, classes, seed):
    logits = make_logits(batch, classes, seed)
    loss = MLKDLoss()
    out = loss(*logits)
    assert out.dtype == torch.float32 and out.dim() == 0
    expected = ref_mlkd(*np64(*logits))
    assert out.item() == pytest.approx(expected, rel=2e-5)


def test_mlkd_custom_temperatures_and_weight():
    logits = make_logits(10, 8, 3)
    temps = (1.0, 3.0, 5.0, 2.0, 6.0)  # the official ImageNet set
    out = MLKDLoss(temperatures=temps, loss_weight=0.5)(*logits)
    assert out.item() == pytest.approx(
        ref_mlkd(*np64(*logits), temps=temps, w_kd=0.5), rel=2e-5)


def test_mlkd_masks_share_with_ties():
    """All teacher rows equal: every confidence ties with the median, so
    m = 1 ("<="); the class sums are distinct, so m_c = 0.6 for C = 5."""
    s_w, s_s, _, t_s = make_logits(6, 5, 4)
    t_w = torch.tensor([[3.0, 1.0, 0.5, -1.0, 2.0]]).repeat(6, 1)
    mask, class_mask = _ref_masks(t_w.double().numpy())
    assert mask.mean() == 1.0 and class_mask.mean() == pytest.approx(0.6)
    out = MLKDLoss()(s_w, s_s, t_w, t_s)
    assert out.item() == pytest.approx(
        ref_mlkd(*np64(s_w, s_s, t_w, t_s)), rel=2e-5)


@pytest.mark.parametrize('batch', [1, 2, 5, 8, 13])
def test_mask_shares_match_numpy_median(batch):
    """m and m_c against NumPy's percentile, odd and even sizes, ties."""
    gen = torch.Generator().manual_seed(batch)
    for trial in range(10):
        t_w = torch.randn(batch, 7, generator=gen) * 2
        if trial % 2:  # coarse logits: tied confidences and class sums
            t_w = t_w.round()
            t_w[batch // 2:] = t_w[0]
        mask, class_mask = _ref_masks(t_w.double().numpy())
        share, class_share = mlkd_confidence_shares(t_w)
        assert share.item() == pytest.approx(mask.mean(), abs=1e-7)
        assert class_share.item() == pytest.approx(class_mask.mean(), abs=1e-7)


def test_mlkd_quirks_are_in_the_loss():
    """The T = 2, 6 terms of the "strong" sum use the weak view: changing
    the strong view only moves the T = 4, 3, 5 strong terms."""
    s_w, s_s, t_w, t_s = make_logits(8, 6, 5)
    only_first = MLKDLoss(temperatures=(2.0, 6.0, 3.0, 4.0, 5.0))
    out = only_first(s_w, s_s, t_w, t_s)
    ref = ref_mlkd(*np64(s_w, s_s, t_w, t_s), temps=(2.0, 6.0, 3.0, 4.0, 5.0))
    assert out.item() == pytest.approx(ref, rel=2e-5)
    # one temperature: the "strong" sum is the strong view's kd term
    single = MLKDLoss(temperatures=(4.0, ), loss_weight=1.0)
    b = s_w.shape[0]
    mask, class_mask = _ref_masks(t_w.double().numpy())
    s_w64, s_s64, t_w64, t_s64 = np64(s_w, s_s, t_w, t_s)
    four = np.full(b, 4.0)
    expected = (
        mask.mean() * _ref_kd(s_w64, t_w64, four) +
        _ref_kd(s_s64, t_s64, four) +
        class_mask.mean() * _ref_cc(s_w64, t_w64, four) +
        mask.mean() * _ref_bc(s_w64, t_w64, four))
    assert single(s_w, s_s, t_w, t_s).item() == pytest.approx(
        expected, rel=2e-5)


@pytest.mark.parametrize(
    'group_temps', [(6.0, 4.0, 2.0), (2.0, 4.0, 6.0), (1.5, 1.0, 0.5)],
    ids=['paper', 'release', 'imagenet-scale'])
def test_energy_mlkd_matches_reference(group_temps):
    logits = make_logits(16, 10, 6)
    t_w = logits[2]
    low, high = explicit_thresholds(t_w)
    loss = EnergyMLKDLoss(*group_temps)
    loss.set_thresholds(low, high)
    out = loss(*logits)
    assert out.dtype == torch.float32
    energies = ref_energy(t_w.double().numpy())
    t_group = ref_group_temperatures(energies, low, high, group_temps)
    assert len(set(t_group)) == 3  # every group is present
    expected = ref_mlkd(*np64(*logits), factor=t_group / group_temps[1])
    assert out.item() == pytest.approx(expected, rel=2e-5)
    # precomputed energies (as the distiller passes them): same value
    again = loss(*logits, energies=loss.energies(t_w))
    assert torch.equal(again, out)
    # directions differ from plain MLKD
    assert out.item() != pytest.approx(MLKDLoss()(*logits).item(), rel=1e-3)


def test_energy_mlkd_groups_come_from_weak_view():
    s_w, s_s, t_w, t_s = make_logits(16, 10, 7)
    low, high = explicit_thresholds(t_w)
    loss = EnergyMLKDLoss(6.0, 4.0, 2.0)
    loss.set_thresholds(low, high)
    out = loss(s_w, s_s, t_w, t_s)
    # a strong view with very different energies changes nothing in the
    # grouping: the value still matches the weak-view-grouped reference
    t_s_far = t_s * 10.0
    energies = ref_energy(t_w.double().numpy())
    factor = ref_group_temperatures(energies, low, high, (1.5, 1.0, 0.5))
    expected = ref_mlkd(*np64(s_w, s_s, t_w, t_s_far), factor=factor)
    assert loss(s_w, s_s, t_w, t_s_far).item() == pytest.approx(
        expected, rel=2e-5)
    assert out.item() != pytest.approx(expected, rel=1e-3)


def test_energy_mlkd_uncalibrated_uses_batch_quantiles():
    logits = make_logits(10, 6, 8)
    loss = EnergyMLKDLoss(2.0, 4.0, 6.0, low_ratio=0.2, high_ratio=0.3)
    with pytest.warns(UserWarning, match='thresholds are not set'):
        out = loss(*logits)
    energies = ref_energy(logits[2].double().numpy())
    ordered = np.sort(energies)
    n = len(ordered)
    low, high = ordered[int(n * 0.2)], ordered[n - int(n * 0.3) - 1]
    factor = ref_group_temperatures(energies, low, high, (2.0, 4.0, 6.0))
    assert out.item() == pytest.approx(
        ref_mlkd(*np64(*logits), factor=factor / 4.0), rel=2e-5)


@pytest.mark.parametrize('temp', [4.0, 1.0, 0.3])
def test_equal_group_temperatures_give_mlkd_exactly(temp):
    logits = make_logits(12, 10, 9)
    temps = (temp, 3.0, 5.0, 2.0, 6.0)
    energy = EnergyMLKDLoss(
        temp, temp, temp, temperatures=temps, loss_weight=0.7)
    energy.set_thresholds(*explicit_thresholds(logits[2]))
    plain = MLKDLoss(temperatures=temps, loss_weight=0.7)
    assert torch.equal(energy(*logits), plain(*logits))


def test_gradients_reach_the_student_only():
    s_w, s_s, t_w, t_s = (
        x.clone().requires_grad_() for x in make_logits(8, 10, 10))
    for loss in (MLKDLoss(), EnergyMLKDLoss(6.0, 4.0, 2.0)):
        for x in (s_w, s_s, t_w, t_s):
            x.grad = None
        if isinstance(loss, EnergyMLKDLoss):
            loss.set_thresholds(*explicit_thresholds(t_w.detach()))
        loss(s_w, s_s, t_w, t_s).backward()
        for student in (s_w, s_s):
            assert student.grad is not None
            assert torch.isfinite(student.grad).all()
            assert student.grad.abs().sum() > 0
        assert t_w.grad is None and t_s.grad is None


def test_half_precision_inputs_give_float32():
    logits = [x.half() for x in make_logits(8, 10, 11)]
    out = MLKDLoss()(*logits)
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(ref_mlkd(*np64(*logits)), rel=1e-4)


def test_registered_and_distill_inputs():
    names = ('student_weak', 'student_strong', 'teacher_weak',
             'teacher_strong')
    for cfg in (dict(type='MLKDLoss'),
                dict(type='EnergyMLKDLoss', low_energy_temperature=2.0)):
        loss = MODELS.build(cfg)
        assert loss.distill_inputs == names
    assert MLKDLoss().temperatures == TEMPS
    assert MLKDLoss().loss_weight == 0.9
    assert EnergyMLKDLoss().loss_weight == 0.9


@pytest.mark.parametrize('kwargs,match', [
    (dict(temperatures=()), 'temperatures'),
    (dict(temperatures=4.0), 'temperatures'),
    (dict(temperatures=(4.0, -1.0)), r'temperatures\[1\]'),
    (dict(temperatures=(4.0, 0.0)), r'temperatures\[1\]'),
    (dict(temperatures=(float('nan'), )), r'temperatures\[0\]'),
    (dict(temperatures=(float('inf'), )), r'temperatures\[0\]'),
    (dict(loss_weight=-1.0), 'loss_weight'),
    (dict(loss_weight=float('nan')), 'loss_weight')
])
def test_invalid_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLKDLoss(**kwargs)
    with pytest.raises(ValueError, match=match):
        EnergyMLKDLoss(**kwargs)


@pytest.mark.parametrize('kwargs,match', [
    (dict(low_ratio=1.5), 'low_ratio'), (dict(high_ratio=-0.1), 'high_ratio'),
    (dict(low_ratio=0.6, high_ratio=0.6), 'low_ratio'),
    (dict(mid_temperature=0.0), 'mid_temperature'),
    (dict(low_energy_temperature=float('nan')), 'low_energy_temperature'),
    (dict(energy_temperature=-4.0), 'energy_temperature')
])
def test_invalid_energy_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EnergyMLKDLoss(**kwargs)


def test_invalid_logits():
    s_w, s_s, t_w, t_s = make_logits(8, 10, 12)
    energy = EnergyMLKDLoss()
    energy.set_thresholds(-10.0, -8.0)
    cases = [
        ((s_w, s_s, t_w[:, :9], t_s), 'num_classes'),
        ((s_w, s_s, t_w, t_s[:7]), 'shape'),
        ((s_w, s_s[:7], t_w, t_s[:7]), 'weak- and strong-view'),
        ((s_w[0], s_s[0], t_w[0], t_s[0]), 'shape'),
        ((s_w[:0], s_s[:0], t_w[:0], t_s[:0]), 'empty batch'),
        ((s_w, s_s, t_w, t_s.masked_fill(t_s > 1,
                                         float('nan'))), 'non-finite'),
        ((s_w, s_s, t_w.masked_fill(t_w > 1,
                                    float('inf')), t_s), 'non-finite'),
    ]
    for args, match in cases:
        for loss in (MLKDLoss(), energy):
            with pytest.raises(ValueError, match=match):
                loss(*args)
