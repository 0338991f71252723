# Copyright (c) mmenergykd contributors. All rights reserved.
"""The digits benchmark (``tools/benchmark_digits.py``).

- ``settings``: methods, epochs, the command line;
- ``runs``: one training run (teacher, or method x seed);
- ``timing``: where the time of a run goes;
- ``teacher`` and ``bank``: the teacher once, its energies, its bank;
- ``statistics``: means over seeds, paired differences with intervals and
  verdicts, energy groups, class groups (long-tailed split);
- ``report`` and ``plots``: the tables, ``results.*`` and the figures;
- ``benchmark``: the whole benchmark from start to end.
"""
from .benchmark import main, run_benchmark
from .settings import (CONFIG_DIR, DEFAULT_IMBALANCE, DEFAULT_SEEDS, METHODS,
                       QUICK_EPOCHS, QUICK_TEACHER_EPOCHS, STUDENT_CONFIG,
                       TEACHER_CONFIG, config_epochs, parse_args)

__all__ = [
    'main', 'run_benchmark', 'parse_args', 'config_epochs', 'METHODS',
    'CONFIG_DIR', 'QUICK_EPOCHS', 'QUICK_TEACHER_EPOCHS', 'STUDENT_CONFIG',
    'TEACHER_CONFIG', 'DEFAULT_SEEDS', 'DEFAULT_IMBALANCE'
]
