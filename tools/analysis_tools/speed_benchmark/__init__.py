# Copyright (c) mmenergykd contributors. All rights reserved.
"""Speed and memory of a distillation config against its physical limit.

The code of ``tools/benchmark_speed.py``. A distillation step can never
cost less than the student's own training step plus the teacher's forward
pass (the *limit*). In one process, on one synthetic batch at the config's
crop size, this measures with warm-up and medians:

- ``student``: the student's training step alone (preprocessing, forward,
  CE loss, backward, optimizer step);
- ``teacher``: the teacher's forward alone (the distiller's own
  ``FrozenTeacher``: eval mode, no gradient, its fast paths, on the
  preprocessed batch; without the finite check of the logits);
- ``kd``, ``energykd``: full ``model.train_step`` of the distiller with the
  config's loss and its vanilla counterpart (KD <-> Energy KD, DKD <->
  Energy DKD, same base temperature and weight);
- ``heda@r``: Energy KD + HE-DA, with the HE-DA threshold set so that
  exactly ``int(B * r)`` samples of the batch qualify;
- ``student_fb@k``, ``teacher@k``: the student's forward + backward and the
  teacher's forward on ``k`` samples, the extra work HE-DA implies;
- ``kd_loss``, ``energykd_loss``: the distiller's energy scores, distill
  losses and logged energy-group shares alone (forward and backward on the
  batch's logits);
- the calibration pass (``mmenergykd.engine.calibration.calibrate_energy``
  on an in-memory dataloader) against plain teacher inference on the same
  loader, in images/s;
- the teacher bank (issue 14; ``bank``): ``energykd_bank``, the config's
  Energy KD step with the teacher's logits looked up in a bank of the
  config's kind (``model.attach_teacher_bank``, data samples with
  ``sample_idx`` / ``teacher_view``), and ``bank_build``, one chunk of a
  bank being written (teacher forwards, encoding, write); timed in their
  own round-robin with ``student``, ``teacher``, ``kd`` and ``energykd``,
  each step after an untimed one of the same variant (``bank_timings``),
  giving the step with the bank over the student step and the live steps,
  the bank's build time in teacher-forward epochs and the break-even
  number of student runs per bank;

and, each in a fresh subprocess, the peak memory of each variant (CUDA: the
maximum allocated memory; CPU: the process's peak RSS minus its RSS before
the variant's models were built).

Step variants are timed round-robin (one step of each per round, the order
rotating), so a slow drift of the machine affects all of them alike.

- ``settings``: the settings, the targets, what is taken from the config;
- ``builders``: the distiller, the student or teacher alone, data, AMP;
- ``steps``: the timed operations; ``timing``: clocks and statistics;
- ``measure``: the main run; ``memory``: the memory probes; ``bank``: the
  teacher-bank variant;
- ``ratios`` and ``report``: the ratios, targets and the printed report;
- ``cli``: the command line.
"""
from .cli import main, parse_args
from .measure import SpeedBenchmark, run_benchmark
from .memory import probe, run_probe_subprocess
from .ratios import compute_ratios
from .report import format_report
from .settings import TARGETS, BenchSettings, derive_losses, load_setup

__all__ = [
    'BenchSettings', 'TARGETS', 'derive_losses', 'load_setup',
    'SpeedBenchmark', 'run_benchmark', 'compute_ratios', 'format_report',
    'probe', 'run_probe_subprocess', 'parse_args', 'main'
]
