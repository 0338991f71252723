# Copyright (c) mmenergykd contributors. All rights reserved.
"""Train a set of pairs x methods x seeds of the paper's CIFAR-100 table.

Usage (from the repository root)::

    python tools/reproduce/run_table.py --pairs resnet32x4_resnet8x4 \
        --methods kd,dkd,energykd --seeds 0 1 2 --gpus 4

Each run trains ``tools/train.py CONFIG --work-dir
<work-root>/<config name>/seed<k> --cfg-options randomness.seed=<k>``;
finished runs (completion marker) are skipped, runs stopped half-way resume
from their newest complete checkpoint. ``--print-commands dist|slurm``
prints the command lines instead, to launch elsewhere. Then
``tools/reproduce/collect_table.py <work-root>`` writes the table.
"""
import argparse
import os.path as osp
import re
import signal
import sys
from typing import Dict, List, Optional, Tuple

from kit_configs import REPO, ModelIndex
from kit_launch import (job_state, local_command, make_jobs, remote_command,
                        run_jobs)
from kit_settings import METHODS, PAIRS, parse_config_name, select


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(
        description='Run pairs x methods x seeds of the CIFAR-100 table.')
    parser.add_argument(
        '--pairs',
        default='all',
        help='comma-separated pair keys, or all: ' + ', '.join(PAIRS))
    parser.add_argument(
        '--methods',
        default='all',
        help='comma-separated methods, or all: ' + ', '.join(METHODS))
    parser.add_argument(
        '--seeds', type=int, nargs='+', default=[0], help='seeds (0)')
    parser.add_argument(
        '--schedule',
        default='auto',
        help="'<N>e' (e.g. 360e) for that schedule only; auto: 240e, or "
        "the pair's own schedule where there is no 240e config (MLKD's "
        '480e); default auto')
    parser.add_argument(
        '--gpus',
        type=int,
        default=1,
        help='1: one run at a time on one GPU; N: N runs at a time, one per '
        'GPU (CUDA_VISIBLE_DEVICES); 0: one run at a time on the CPU')
    parser.add_argument(
        '--work-root',
        default='work_dirs/reproduce',
        help='runs go to WORK_ROOT/<config name>/seed<k> (%(default)s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help="passed to every run's tools/train.py --cfg-options")
    parser.add_argument(
        '--print-commands',
        choices=('dist', 'slurm'),
        help='print tools/dist_train.sh or srun command lines, run nothing')
    parser.add_argument(
        '--partition',
        default='${PARTITION}',
        help='slurm partition for --print-commands slurm')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='show each run, its state and command; run nothing')
    args = parser.parse_args(argv)
    if args.gpus < 0:
        parser.error(f'--gpus {args.gpus}: use 0 (CPU) or a GPU count.')
    if args.schedule != 'auto' and not re.match(r'^\d+e$', args.schedule):
        parser.error(f'--schedule {args.schedule!r}: use auto or <N>e, e.g. '
                     '240e.')
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f'--seeds {args.seeds}: a seed is repeated.')
    try:
        args.pairs = select(args.pairs, list(PAIRS), '--pairs')
        args.methods = select(args.methods, METHODS, '--methods')
    except ValueError as exc:
        parser.error(str(exc))
    for option in args.cfg_options:
        if '=' not in option:
            parser.error(f'--cfg-options {option!r}: use KEY=VALUE.')
    return args


def resolve_configs(pairs: List[str],
                    methods: List[str],
                    schedule: str,
                    repo: str = REPO) -> Tuple[Dict[str, str], List[str]]:
    """Config files of the chosen pairs x methods through the model index.

    Args:
        pairs (list[str]): Pair keys.
        methods (list[str]): Method keys.
        schedule (str): ``'auto'`` or ``'<N>e'`` (see
            :meth:`ModelIndex.choose`).
        repo (str): The repository root (model-index.yml, configs/).

    Returns:
        tuple[dict[str, str], list[str]]: config name -> path, and the
        (method, pair) combinations that have no config (skipped).
    """
    index = ModelIndex(repo)
    found: Dict[str, str] = {}
    missing: List[str] = []
    for pair in pairs:
        for method in methods:
            name = index.choose(method, pair, schedule)
            if name is None:
                missing.append(f'{method} x {pair} (schedule {schedule})')
            else:
                found[name] = index.config_path(name)
    return found, missing


def _print_plan(jobs, cfg_options: List[str], gpus: int) -> None:
    """Print each run's state and, unless finished, its command."""
    device = 'CPU' if gpus == 0 else f'{gpus} GPU(s)'
    print(f'# {len(jobs)} run(s) on {device}, '
          f'{max(gpus, 1)} at a time')
    for job in jobs:
        state = job_state(job)
        parts = parse_config_name(job.name) or {}
        print(f"[{state}] {parts.get('pair')} {parts.get('method')} "
              f'seed {job.seed}: {job.work_dir}')
        if state != 'finished':
            print('    ' + ' '.join(local_command(job, cfg_options)))


def main(argv: Optional[List[str]] = None) -> int:
    """Plan, then run, print or show the runs; exit 1 if a run failed."""
    args = parse_args(argv)
    configs, missing = resolve_configs(args.pairs, args.methods, args.schedule)
    for name in missing:
        print(
            f'[no config] {name}: no metafile entry or config file; '
            'skipped',
            file=sys.stderr)
    if not configs:
        print(
            'error: none of the chosen pairs x methods has a config; see '
            'the [no config] lines above.',
            file=sys.stderr)
        return 2
    # printed lines run from the repository root elsewhere: keep the root
    # as given; local runs start in the repository root: make it absolute
    root = args.work_root if args.print_commands else osp.abspath(
        args.work_root)
    jobs = make_jobs(configs, args.seeds, root)
    if args.print_commands:
        for job in jobs:
            if job_state(job) == 'finished':
                print(f'# finished, skipped: {job.work_dir}')
            else:
                print(
                    remote_command(job, args.cfg_options, args.print_commands,
                                   args.partition))
        return 0
    if args.dry_run:
        _print_plan(jobs, args.cfg_options, args.gpus)
        return 0

    def _interrupt(signum, frame):
        raise KeyboardInterrupt(f'signal {signum}')

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        failures = run_jobs(jobs, args.cfg_options, args.gpus)
    except KeyboardInterrupt:
        print(
            'interrupted: the running trainings were stopped; run the same '
            'command again to resume them.',
            file=sys.stderr)
        return 130
    if failures:
        print(
            f'{len(failures)} run(s) failed: ' +
            ', '.join(f'{j.name} seed {j.seed}' for j in failures),
            file=sys.stderr)
        return 1
    print(f'all {len(jobs)} run(s) finished; table: python '
          f'tools/reproduce/collect_table.py {root}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
