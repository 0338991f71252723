# Copyright (c) mmenergykd contributors. All rights reserved.
"""Seeding from a key, and leaving the global generators as they were."""
import random

import numpy as np
import torch

__all__ = [
    'seed_everything_for_step', 'only_cpu_generators', 'PreserveRNGState'
]


def seed_everything_for_step(seed: int,
                             *key: int,
                             cpu_only: bool = False) -> None:
    """Seed Python's, NumPy's and torch's global generators from a key.

    What a step draws then depends on ``(seed, *key)`` only, never on what
    ran before it (validation, calibration, an interruption).

    Args:
        seed (int): The run's seed.
        *key (int): What identifies the step (rank, epoch, batch index).
        cpu_only (bool): Seed only torch's CPU generator, with the same
            value (the same states where :func:`only_cpu_generators`). In
            such a process ``torch.manual_seed`` would also queue a lazy
            seed of every device that is never initialised, formatting a
            stack trace each time (0.1-2 ms a call): too slow once per
            sample.
    """
    entropy = [int(seed) % (1 << 63)] + [int(k) % (1 << 63) for k in key]
    words = np.random.SeedSequence(entropy).generate_state(4, np.uint32)
    random.seed(int(words[0]) << 32 | int(words[1]))
    np.random.seed(words)
    torch_seed = int(words[2]) << 31 | int(words[3]) >> 1
    if cpu_only:
        torch.default_generator.manual_seed(torch_seed)
    else:
        # torch.manual_seed also seeds every CUDA device.
        torch.manual_seed(torch_seed)


def only_cpu_generators() -> bool:
    """Whether torch's CPU generator is the only one ``torch.manual_seed``
    can seed here (no CUDA, XPU, MTIA, MPS or custom device available)."""
    for name in ('cuda', 'xpu', 'mtia'):
        module = getattr(torch, name, None)
        if module is not None and module.is_available():
            return False
    if torch.backends.mps.is_available():
        return False
    return not hasattr(torch, torch._C._get_privateuse1_backend_name())


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
