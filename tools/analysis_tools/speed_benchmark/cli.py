# Copyright (c) mmenergykd contributors. All rights reserved.
"""The command line of ``tools/benchmark_speed.py``."""
import argparse
import json
import os
import os.path as osp
import sys
import warnings
from typing import Optional, Sequence

import torch

from .measure import run_benchmark
from .memory import PROBE_FLAG, probe_main
from .report import format_report
from .settings import BenchSettings


def _add_setup_args(parser: argparse.ArgumentParser) -> None:
    """The config, device, precision, batch and the fast paths."""
    parser.add_argument(
        'config',
        help='a distillation config, e.g. '
        'configs/energykd/res34_res18_in1k.py')
    parser.add_argument(
        '--device',
        default=None,
        help='cpu or cuda (default: cuda when available)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision through AmpOptimWrapper')
    parser.add_argument(
        '--amp-dtype', default='bfloat16', choices=['bfloat16', 'float16'])
    parser.add_argument(
        '--batch-size',
        type=int,
        default=None,
        help="default: the config's train batch size")
    parser.add_argument(
        '--img-size',
        type=int,
        default=None,
        help="default: the config's crop size (224)")
    parser.add_argument(
        '--iters',
        type=int,
        default=10,
        help='timed rounds (one step of each variant each)')
    parser.add_argument(
        '--warmup', type=int, default=2, help='untimed rounds first')
    parser.add_argument(
        '--teacher-ckpt',
        default=None,
        help='teacher weights (default: random teacher)')
    for flag in ('channels-last', 'teacher-inference-mode', 'compile-teacher',
                 'check-finite-teacher', 'cudnn-benchmark'):
        parser.add_argument(
            f'--{flag}',
            action=argparse.BooleanOptionalAction,
            default=None,
            help="default: the config's setting")


def _add_measure_args(parser: argparse.ArgumentParser) -> None:
    """What is measured, how often, and where the report goes."""
    parser.add_argument(
        '--heda-ratios',
        default='0,0.25,0.5,1.0',
        help='comma-separated HE-DA high_ratio sweep')
    parser.add_argument(
        '--calib-batches',
        type=int,
        default=None,
        help='batches per calibration pass (default '
        'max(3, iters // 2))')
    parser.add_argument(
        '--calib-passes',
        type=int,
        default=3,
        help='timed passes each of calibration and plain '
        'teacher inference (median)')
    parser.add_argument(
        '--loss-reps',
        type=int,
        default=20,
        help='repetitions per timing of the loss-only rows')
    parser.add_argument(
        '--no-memory',
        action='store_true',
        help='skip the memory probes (subprocesses)')
    parser.add_argument(
        '--memory-jobs',
        type=int,
        default=2,
        help='memory probes run at the same time (each is '
        'its own process; their timing does not matter)')
    parser.add_argument(
        '--timer',
        default='wall',
        choices=['wall', 'process'],
        help='wall clock (default), or the process\'s CPU '
        'time (CPU only: robust on a machine shared with '
        'other jobs)')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch.set_num_threads (CPU)')
    parser.add_argument('--seed', type=int, default=0)
    _add_bank_args(parser)
    parser.add_argument('--json', default=None, help='write the report here')


def _add_bank_args(parser: argparse.ArgumentParser) -> None:
    """The teacher-bank variant (issue 14)."""
    parser.add_argument(
        '--no-bank', action='store_true', help='skip the teacher-bank variant')
    parser.add_argument(
        '--bank-crops',
        type=int,
        default=8,
        help='crops per image of a sampled bank (RandomResizedCrop '
        'pipelines; tools/build_teacher_bank.py --sampled-crops)')
    parser.add_argument(
        '--bank-topk',
        type=int,
        default=10,
        help='logits kept per view of a sampled bank')
    parser.add_argument(
        '--bank-dtype', default='fp16', choices=['fp16', 'fp32'])
    parser.add_argument(
        '--bank-build-views',
        type=int,
        default=1,
        help='views of the batch written by each timed bank build')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Speed and memory of KD, Energy KD, HE-DA and the '
        'calibration pass against the limit (student step + teacher '
        'forward), on synthetic data at the config\'s crop size.')
    _add_setup_args(parser)
    _add_measure_args(parser)
    return parser.parse_args(argv)


def settings_from_args(args: argparse.Namespace) -> BenchSettings:
    """The benchmark's settings from the parsed command line."""
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    return BenchSettings(
        config=args.config,
        device=device,
        amp=args.amp,
        amp_dtype=args.amp_dtype,
        batch_size=args.batch_size,
        img_size=args.img_size,
        iters=args.iters,
        warmup=args.warmup,
        teacher_ckpt=args.teacher_ckpt,
        channels_last=args.channels_last,
        teacher_inference_mode=args.teacher_inference_mode,
        compile_teacher=args.compile_teacher,
        check_finite_teacher=args.check_finite_teacher,
        heda_ratios=[float(r) for r in args.heda_ratios.split(',') if r],
        calib_batches=args.calib_batches,
        memory=not args.no_memory,
        cudnn_benchmark=args.cudnn_benchmark,
        loss_reps=args.loss_reps,
        calib_passes=args.calib_passes,
        timer=args.timer,
        memory_jobs=args.memory_jobs,
        threads=args.threads,
        seed=args.seed,
        bank=not args.no_bank,
        bank_crops=args.bank_crops,
        bank_topk=args.bank_topk,
        bank_dtype=args.bank_dtype,
        bank_build_views=args.bank_build_views)


def main(argv: Optional[Sequence[str]] = None) -> Optional[dict]:
    """Run the benchmark, print the report (and write it as JSON).

    ``--memory-probe SPEC`` as the only arguments runs one memory probe
    instead (what the benchmark's own probe processes run).

    Returns:
        dict | None: The report (None for a memory probe).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) == 2 and argv[0] == PROBE_FLAG:
        probe_main(argv[1])
        return None
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = settings_from_args(args)
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', category=UserWarning)
        warnings.filterwarnings('ignore', category=FutureWarning)
        report = run_benchmark(settings)
    report['command'] = ' '.join(['python', 'tools/benchmark_speed.py'] + argv)
    print(format_report(report), flush=True)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2, default=str)
    return report
