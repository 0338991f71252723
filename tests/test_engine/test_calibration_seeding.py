"""The calibration pass's per-sample seeding: its CPU fast path leaves the
generators exactly as ``seed_everything_for_step`` leaves them."""
import random

import numpy as np
import pytest
import torch

from mmenergykd.engine import calibration
from mmenergykd.utils.seeding import seed_everything_for_step


def _states():
    return (random.getstate(), np.random.get_state(), torch.get_rng_state())


def _assert_same(a, b):
    assert a[0] == b[0]
    for x, y in zip(a[1], b[1]):
        assert np.array_equal(x, y)
    assert torch.equal(a[2], b[2])


@pytest.mark.parametrize('key', [(0, calibration.CALIBRATION_KEY, 0),
                                 (7, calibration.CALIBRATION_KEY, 123456),
                                 (-3, 2**70, 5)])
def test_cpu_fast_path_seeds_like_seed_everything_for_step(key):
    seed_everything_for_step(*key)
    expected = _states()
    draws = (random.random(), np.random.rand(), torch.rand(3))
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    seed_everything_for_step(*key, cpu_only=True)
    _assert_same(_states(), expected)
    assert (random.random(), np.random.rand()) == draws[:2]
    assert torch.equal(torch.rand(3), draws[2])


def test_seeded_samples_choose_the_fast_path_only_without_devices(monkeypatch):
    samples = calibration.SeededSamples(list(range(4)), seed=0)
    if torch.cuda.is_available():
        assert not samples.cpu_only
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.backends.mps, 'is_available', lambda: False)
    for name in ('xpu', 'mtia'):
        if hasattr(torch, name):
            monkeypatch.setattr(
                getattr(torch, name), 'is_available', lambda: False)
    samples = calibration.SeededSamples(list(range(4)), seed=0)
    assert samples.cpu_only
    assert samples[2] == 2
    after_fast = _states()
    seed_everything_for_step(0, calibration.CALIBRATION_KEY, 2)
    _assert_same(after_fast, _states())
    # a machine with a GPU seeds every device, as before
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    samples = calibration.SeededSamples(list(range(4)), seed=0)
    assert not samples.cpu_only
