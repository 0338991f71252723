# Copyright (c) mmenergykd contributors. All rights reserved.
"""Speed and memory of distillation against its limit (issue 5).

A distillation step can never be cheaper than the student's training step
plus the teacher's forward pass (the limit). This measures, in one process
on a synthetic batch at the config's crop size, with warm-up and medians:
the student step alone, the teacher forward alone, full training steps of
KD, Energy KD and Energy KD + HE-DA (a high_ratio sweep), the calibration
pass against plain teacher inference, the Energy KD step with a teacher
bank and the bank's build cost (issue 14; ``--no-bank`` skips them), and
(one fresh subprocess per variant) the peak memory of each. It prints a
table, the ratios and the targets, and optionally writes everything as
JSON.

Usage::

    python tools/benchmark_speed.py configs/energykd/res34_res18_in1k.py \\
        --device cpu --batch-size 8 --iters 5 --json work_dirs/speed.json
    python tools/benchmark_speed.py configs/energykd/res34_res18_in1k.py \\
        --device cuda --amp --amp-dtype bfloat16 --channels-last

See ``tools/analysis_tools/speed_benchmark/`` for what each row measures.
"""
import os

# OpenMP threads that spin while waiting for work burn the CPU that the
# other thread (and every other job on a shared machine) needs, which makes
# CPU timings erratic; sleeping waiters keep them steady. Must be set before
# torch loads. Export OMP_WAIT_POLICY=ACTIVE to measure the default.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

from analysis_tools.speed_benchmark import main  # noqa: E402

if __name__ == '__main__':
    main()
