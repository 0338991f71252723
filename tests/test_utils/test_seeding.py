import random

import numpy as np
import torch

from mmenergykd.utils.seeding import PreserveRNGState, seed_everything_for_step


def _draw():
    return random.random(), float(np.random.rand()), torch.rand(1).item()


def test_same_key_same_numbers_other_key_other_numbers():
    seed_everything_for_step(7, 0, 3)
    first = _draw()
    seed_everything_for_step(7, 0, 3)
    assert _draw() == first
    seed_everything_for_step(7, 0, 4)
    assert _draw() != first


def test_preserve_rng_state_restores_all_three():
    seed_everything_for_step(1, 2)
    with PreserveRNGState():
        expected = _draw()
    with PreserveRNGState():
        seed_everything_for_step(99)
        _draw()
    assert _draw() == expected
