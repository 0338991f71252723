# Copyright (c) mmenergykd contributors. All rights reserved.
"""Seeding from a key, and leaving the global generators as they were."""
import random

import numpy as np
import torch

__all__ = ['seed_everything_for_step', 'PreserveRNGState']


def seed_everything_for_step(seed: int, *key: int) -> None:
    """Seed Python's, NumPy's and torch's global generators from a key.

    What a step draws then depends on ``(seed, *key)`` only, never on what
    ran before it (validation, calibration, an interruption).

    Args:
        seed (int): The run's seed.
        *key (int): What identifies the step (rank, epoch, batch index).
    """
    entropy = [int(seed) % (1 << 63)] + [int(k) % (1 << 63) for k in key]
    words = np.random.SeedSequence(entropy).generate_state(4, np.uint32)
    random.seed(int(words[0]) << 32 | int(words[1]))
    np.random.seed(words)
    # torch.manual_seed also seeds every CUDA device.
    torch.manual_seed(int(words[2]) << 31 | int(words[3]) >> 1)


class PreserveRNGState:
    """Context manager: Python / NumPy / torch generators end as they began.

    Example:
        >>> with PreserveRNGState():
        ...     seed_everything_for_step(0, 1)  # draws inside do not leak
    """

    def __enter__(self) -> 'PreserveRNGState':
        self.states = (random.getstate(), np.random.get_state(),
                       torch.get_rng_state(), torch.cuda.get_rng_state_all()
                       if torch.cuda.is_available() else None)
        return self

    def __exit__(self, *exc) -> bool:
        random.setstate(self.states[0])
        np.random.set_state(self.states[1])
        torch.set_rng_state(self.states[2])
        if self.states[3] is not None:
            torch.cuda.set_rng_state_all(self.states[3])
        return False
