# Copyright (c) mmenergykd contributors. All rights reserved.
"""Benchmark every method of mmenergykd on real data: sklearn's digits.

Trains the teacher once and builds its teacher bank (the teacher's logits
for every training image and crop offset: exact, the digits pipeline has 25
offsets), then trains each method (student alone, KD, DKD, Energy KD in both
temperature directions, Energy DKD, KD + HE-DA, Energy KD + HE-DA, and a
control: KD + the same CutMix on a random subset of the same size) for 10
seeds, each in its own in-process MMEngine Runner with our distiller, losses,
hooks and calibration, on two worker processes. Every method is compared
with the student alone and with KD per seed (same initial weights, same
batches): mean difference, 95 % paired-t interval, seeds above / below, a
verdict and the smallest detectable difference. Writes into the work dir:

- ``results.json``: every number (per run, per epoch, per energy group, per
  class group, where each run's time went);
- ``results.md``: the markdown tables that are also printed;
- ``accuracy.png``, ``energy_hist.png``, ``energy_groups.png``.

The teacher of a full run (the teacher config's own recipe, balanced data)
is also stored where every digits distillation config looks for it:
``~/.cache/mmenergykd/digits/teacher.pth``, or the file named by the
environment variable ``MMENERGYKD_DIGITS_TEACHER``. A ``--quick`` run keeps
its shortened teacher in its own work dir (``work_dirs/
digits_benchmark_quick``), marked as such in its meta, and the configs
refuse a teacher so marked.

Nothing is downloaded: the digits ship with scikit-learn.

Usage::

    pip install ".[lite,tests]"                     # once
    python tools/benchmark_digits.py                # ~13 min, 2 cores
    python tools/benchmark_digits.py --long-tailed  # Digits-LT
    # a ViT with a distillation token at its own preprocessing learns from
    # the digits CNN at the CNN's own (docs/digits/heterogeneous)
    python tools/benchmark_digits.py --heterogeneous
    python tools/benchmark_digits.py --quick        # smoke test
    mim run mmenergykd benchmark_digits             # an installed package
    python tools/benchmark_digits.py --methods student,kd --seeds 2
    python tools/benchmark_digits.py --no-bank      # live teacher
    # the plain pipeline for seeds 0-1, compared run by run with the default
    python tools/benchmark_digits.py --plain --seeds 2 \
        --teacher-ckpt work_dirs/digits_benchmark/teacher/teacher.pth \
        --work-dir work_dirs/digits_plain \
        --check-against work_dirs/digits_benchmark/results.json

The benchmark's code is in ``tools/analysis_tools/digits_benchmark/``.
"""
import warnings

# setuptools >= 81 warns whenever MMEngine imports pkg_resources; this also
# runs first in every worker process (spawned workers re-import this file)
warnings.filterwarnings('ignore', 'pkg_resources is deprecated')

from analysis_tools.digits_benchmark import main  # noqa: E402

if __name__ == '__main__':
    main()
