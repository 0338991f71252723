# Copyright (c) mmenergykd contributors. All rights reserved.
"""The digits benchmark from start to end: teacher, runs, results."""
import argparse
import datetime
import os
import os.path as osp
import platform
import sys
import time
from collections import OrderedDict
from concurrent.futures import FIRST_COMPLETED, wait
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config

from .bank import bank_supported
from .check import load_and_compare
from .plots import make_plots
from .report import markdown_report, write_results
from .runs import describe_model, param_count, run_job, spawn_pool
from .settings import (CONFIG_DIR, COST, METHODS, SMOKE_NOTE, cpu_model,
                       energy_settings, imbalance, import_package, log,
                       parse_args, val_interval)
from .statistics import (ImageGroups, class_groups_of, energy_group_results,
                         pick_thresholds, summarize)
from .teacher import teacher_bank, teacher_phase
from .timing import PARTS


def run_jobs(jobs: List[dict], early: Optional[tuple], workers: int,
             threads: int, t_start: float) -> Dict[tuple, dict]:
    """Train ``jobs`` and wait for the runs already started; returns
    ``(method, seed) -> run``.

    With one worker the runs train in this process. Otherwise ``workers``
    processes train at once, never more: ``early`` is ``(executor,
    futures)`` of the one process already training the student-alone runs;
    a pool of ``workers - 1`` more starts now, and each process gets its
    next run only when it has finished the last one (the costliest runs
    are first in ``jobs``), so no core trains two runs at a time.
    """
    early_pool, early_futures = early if early else (None, [])
    total = len(jobs) + len(early_futures)
    done: Dict[tuple, dict] = {}

    def finished(out: dict) -> None:
        done[(out['method'], out['seed'])] = out
        log(f"{METHODS[out['method']][1]}: seed {out['seed']} done: best "
            f"{out['best']:.2f} (epoch {out['best_epoch']}), last "
            f"{out['last']:.2f}, {out['seconds']:.0f} s  [{len(done)}/"
            f'{total} runs, {(time.time() - t_start) / 60:.1f} min]')

    if workers <= 1 and early_pool is None:
        for job in jobs:
            finished(run_job(job))
        return done
    extra = min(workers - (early_pool is not None), len(jobs))
    pool = spawn_pool(extra) if extra > 0 else None
    slots = ([(early_pool, 1)] if early_pool is not None else
             []) + ([(pool, extra)] if pool is not None else [])
    if pool is not None:
        log(f'{len(jobs)} runs on {workers} worker processes ({threads} '
            'torch thread(s) each)')
    pending = list(jobs)
    running = {future: early_pool for future in early_futures}
    try:
        while running or pending:
            for executor, size in slots:
                busy = sum(1 for e in running.values() if e is executor)
                for _ in range(min(size - busy, len(pending))):
                    running[executor.submit(run_job,
                                            pending.pop(0))] = executor
            ended, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in ended:
                running.pop(future)
                finished(future.result())
    except BaseException:
        for future in running:
            future.cancel()
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return done


def _settings(args: argparse.Namespace, argv: Optional[Sequence[str]],
              seeds: List[int], energies: dict, energy_cfg: dict) -> dict:
    """The ``settings`` entry of ``results.json``."""
    base_cfg = Config.fromfile(osp.join(CONFIG_DIR, METHODS['student'][0]))
    return dict(
        setting='heterogeneous'
        if getattr(args, 'heterogeneous', False) else 'default',
        command='python tools/benchmark_digits.py ' +
        ' '.join(sys.argv[1:] if argv is None else list(argv)),
        methods=args.methods,
        seeds=len(seeds),
        seed_list=seeds,
        epochs=args.epochs,
        val_interval=val_interval(args),
        plain=args.plain,
        teacher_epochs=args.teacher_epochs,
        quick=args.quick,
        smoke_test=args.quick,
        long_tailed=args.long_tailed,
        imbalance_ratio=imbalance(args),
        train_class_counts=energies['train_class_counts'],
        teacher_bank=not args.no_bank and bank_supported(),
        img_size=int(base_cfg.img_size),
        batch_size=int(base_cfg.train_dataloader.batch_size),
        num_train=int(len(energies['train'])),
        num_val=int(len(energies['val_y'])),
        val_ratio=float(base_cfg.train_dataloader.dataset.val_ratio),
        split_seed=int(base_cfg.train_dataloader.dataset.split_seed),
        student_params=param_count(base_cfg.model),
        student_model=describe_model(base_cfg.model),
        energy_temperature=energy_cfg['temperature'],
        low_ratio=energy_cfg['low_ratio'],
        high_ratio=energy_cfg['high_ratio'],
        heda_ratio=energy_cfg['heda_ratio'],
        machine=dict(
            platform=platform.platform(),
            processor=cpu_model(),
            cpu_count=os.cpu_count(),
            torch_threads=torch.get_num_threads(),
            cuda=torch.cuda.is_available(),
            python=platform.python_version(),
            torch=torch.__version__))


def _jobs(args: argparse.Namespace, seeds: List[int], work_dir: str,
          stamp: str) -> Tuple[List[dict], List[dict]]:
    """The runs to train next to the teacher (the student-alone runs need
    no teacher: with more than one worker, one process trains them while
    this one trains the teacher) and those that wait for it (without their
    teacher checkpoint, set once the teacher is there)."""

    def job(method: str, seed: int) -> dict:
        return dict(
            method=method,
            seed=seed,
            epochs=args.epochs,
            work_dir=work_dir,
            teacher_ckpt=None,
            verbose=args.verbose,
            stamp=stamp,
            threads=args.threads,
            imbalance_ratio=imbalance(args),
            val_interval=val_interval(args),
            plain=args.plain)

    early = [
        job(method, seed) for method in args.methods for seed in seeds
        if method == 'student'
    ] if args.workers > 1 and not args.teacher_ckpt else []
    started = {(j['method'], j['seed']) for j in early}
    later = [
        job(method, seed) for method in args.methods for seed in seeds
        if (method, seed) not in started
    ]
    # The HE-DA runs cost the most: start them first so that no worker is
    # left alone with a long run at the end.
    later.sort(key=lambda j: -COST[j['method']])
    return early, later


def _load() -> str:
    """The 1 / 5 / 15 min load averages (other jobs slow the runs)."""
    try:
        return ' / '.join(f'{x:.2f}' for x in os.getloadavg())
    except OSError:
        return 'n/a'


def run_benchmark(args: argparse.Namespace,
                  argv: Optional[Sequence[str]]) -> dict:
    """Teacher, every method x seed, statistics, tables, plots, files."""
    t_start = time.time()
    load_start = _load()
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    stamp = datetime.datetime.now().strftime('%Y%m%d_%H%M%S')
    if args.quick:
        log(SMOKE_NOTE)
    log(f"Digits{'-LT' if args.long_tailed else ''} benchmark: methods "
        f'{args.methods}, seeds {seeds}, '
        f'{args.epochs} student epochs, teacher {args.teacher_epochs} '
        f'epochs; {args.workers} worker process(es), {args.threads} torch '
        f'thread(s) each; work dir {work_dir}')
    early_jobs, jobs = _jobs(args, seeds, work_dir, stamp)
    early_pool, early_futures = None, []
    if early_jobs:
        early_pool = spawn_pool(1)
        early_futures = [early_pool.submit(run_job, j) for j in early_jobs]
        log(f'{len(early_jobs)} student-alone run(s) started on 1 worker '
            'process next to the teacher')
    energy_cfg = energy_settings()
    try:
        teacher, energies = teacher_phase(args, work_dir, stamp,
                                          energy_cfg['temperature'])
        bank = teacher_bank(args, work_dir, teacher['checkpoint'], stamp)
        for job in jobs:
            job.update(teacher_ckpt=teacher['checkpoint'], teacher_bank=bank)
        done = run_jobs(jobs,
                        (early_pool, early_futures) if early_pool else None,
                        args.workers, args.threads, t_start)
    finally:
        if early_pool is not None:
            early_pool.shutdown(wait=True, cancel_futures=True)
    runs: Dict[str, List[dict]] = OrderedDict(
        (method, [done[(method, seed)] for seed in seeds])
        for method in args.methods)
    results = _results(args, argv, seeds, teacher, energies, energy_cfg, runs)
    if args.check_against:
        results['check'] = load_and_compare(results, args.check_against)
    results['wall_seconds'] = time.time() - t_start
    results['settings']['machine'].update(
        load_start=load_start, load_end=_load())
    plots = make_plots(results, energies['train'], energies['aug'], work_dir)
    results['plots'] = [osp.basename(p) for p in plots]
    results['wall_seconds'] = time.time() - t_start
    write_results(results, markdown_report(results, args.workers,
                                           args.threads), work_dir)
    return results


def _results(args: argparse.Namespace, argv: Optional[Sequence[str]],
             seeds: List[int], teacher: dict, energies: dict, energy_cfg: dict,
             runs: Dict[str, List[dict]]) -> dict:
    """What ``results.json`` holds (without the wall time and plots)."""
    thresholds, source, heda_threshold = pick_thresholds(
        runs, energies['train'], energy_cfg)
    groups = ImageGroups.by_energy(energies['val'], thresholds)
    results = dict(
        settings=_settings(args, argv, seeds, energies, energy_cfg),
        teacher=teacher,
        summary=summarize(runs),
        energy_groups=energy_group_results(
            groups, thresholds, source, heda_threshold,
            groups.per_method(runs, 'group_acc_last'), energies),
        timing=_timing(runs),
        runs=runs,
    )
    if args.long_tailed:
        class_group = class_groups_of(energies['train_class_counts'])
        by_class = ImageGroups.by_class(energies['val_y'], class_group)
        results['class_groups'] = dict(
            class_group=class_group,
            train_counts={
                name:
                sum(n for n, g in zip(energies['train_class_counts'],
                                      class_group) if g == i)
                for i, name in enumerate(by_class.names)
            },
            val_sizes=by_class.sizes,
            teacher=by_class.accuracy(energies['teacher_val_correct']),
            methods=by_class.per_method(runs, 'class_group_acc_last'))
    return results


def _timing(runs: Dict[str, List[dict]]) -> dict:
    """Mean seconds per part of a run (timing.PARTS), per method."""
    return {
        method: {
            part: float(np.mean([r['timing'].get(part, 0.0) for r in rs]))
            for part in PARTS
        }
        for method, rs in runs.items()
    }


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the benchmark; returns what it writes to ``results.json``."""
    args = parse_args(argv)
    import_package()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(args.threads)
        # Denormal floats can make CPU convolutions 10-50x slower.
        torch.set_flush_denormal(True)
        return run_benchmark(args, argv)
    finally:
        torch.set_num_threads(threads)
        torch.set_flush_denormal(False)
