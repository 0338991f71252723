# Copyright (c) mmenergykd contributors. All rights reserved.
"""Turn run records into the comparison table (rows, markdown, JSON).

One row per config: the runs of that config (one per seed), the mean and
sample standard deviation (n - 1; none for one run) of their best and last
top-1, the published number and ``mean best - published``. The statistics
use the finished runs; a row whose runs are all still going uses those and
says so in its status.
"""
import json
import math
from typing import Callable, Dict, List, Optional, Sequence

from kit_read import RunRecord
from kit_settings import METHODS, PAIRS, Published, parse_config_name


def mean_std(values: Sequence[float]) -> Dict[str, Optional[float]]:
    """Mean and sample standard deviation (None for fewer than 2 values)."""
    if not values:
        return dict(mean=None, std=None)
    mean = sum(values) / len(values)
    if len(values) < 2:
        return dict(mean=mean, std=None)
    var = sum((v - mean)**2 for v in values) / (len(values) - 1)
    return dict(mean=mean, std=math.sqrt(var))


def run_entry(run: RunRecord) -> dict:
    """A run as a JSON-ready dict."""
    best_epoch = max(run.top1, key=lambda e: (run.top1[e], -e)) \
        if run.top1 else None
    return dict(
        name=run.name,
        seed=run.seed,
        work_dir=run.work_dir,
        best=run.best,
        best_epoch=best_epoch,
        last=run.last,
        last_epoch=max(run.top1) if run.top1 else None,
        max_epochs=run.max_epochs,
        finished=run.finished)


def _status(runs: Sequence[RunRecord]) -> str:
    """``'<k> finished, <m> running (seed s: epoch e/E)'``."""
    done = sum(r.finished for r in runs)
    going = [r for r in runs if not r.finished]
    text = f'{done} finished'
    if going:
        progress = ', '.join(
            f'seed {r.seed}: epoch {max(r.top1) if r.top1 else 0}/'
            f'{r.max_epochs if r.max_epochs is not None else "?"}'
            for r in going)
        text += f', {len(going)} running ({progress})'
    return text


def build_rows(runs: Sequence[RunRecord],
               published: Callable[[str], Optional[Published]]) -> List[dict]:
    """Group runs by config name into table rows.

    Args:
        runs (Sequence[RunRecord]): The runs.
        published (Callable): Config name -> :class:`Published` or None.

    Returns:
        list[dict]: Rows sorted by pair then method (known ones in the
        kit's order first), each with ``best`` / ``last`` mean and std,
        ``published``, ``diff`` and its runs.
    """
    groups: Dict[str, List[RunRecord]] = {}
    for run in runs:
        groups.setdefault(run.name, []).append(run)
    rows = []
    for name, members in groups.items():
        members = sorted(
            members, key=lambda r: (r.seed is None, r.seed or 0, r.work_dir))
        finished = [r for r in members if r.finished]
        used = finished or members
        parts = parse_config_name(name) or {}
        pub = published(name)
        best = mean_std([r.best for r in used if r.best is not None])
        row = dict(
            name=name,
            pair=parts.get('pair'),
            method=parts.get('method'),
            schedule=parts.get('schedule'),
            num_runs=len(members),
            stats_over='finished' if finished else 'running',
            best=best,
            last=mean_std([r.last for r in used if r.last is not None]),
            published=pub.top1 if pub else None,
            published_source=pub.source if pub else None,
            diff=None if pub is None or best['mean'] is None else
            best['mean'] - pub.top1,
            status=_status(members),
            runs=[run_entry(r) for r in members])
        rows.append(row)
    return sorted(rows, key=_row_order)


def _row_order(row: dict) -> tuple:
    """Sort key: pairs, then methods, in the kit's order; unknown last."""
    pairs, methods = list(PAIRS), list(METHODS)
    pair, method = row['pair'], row['method']
    return (pairs.index(pair) if pair in pairs else len(pairs), pair or '',
            methods.index(method) if method in methods else len(methods),
            row['name'])


def fmt(stat: Dict[str, Optional[float]]) -> str:
    """``'mean ± std'`` with two decimals; ``'-'`` when empty."""
    if stat['mean'] is None:
        return '-'
    if stat['std'] is None:
        return f"{stat['mean']:.2f}"
    return f"{stat['mean']:.2f} ± {stat['std']:.2f}"


def _num(value: Optional[float], signed: bool = False) -> str:
    """Two decimals (signed on request); ``'-'`` for None."""
    if value is None:
        return '-'
    return f'{value:+.2f}' if signed else f'{value:.2f}'


def to_markdown(rows: Sequence[dict]) -> str:
    """The summary table, a pair x method pivot and the per-run table."""
    lines = [
        '## Summary', '',
        'CIFAR-100 top-1 (%), mean ± sample std over seeds (no std for one '
        'run); diff = mean best - published.', '',
        '| config | runs | best top-1 | last top-1 | published | diff | '
        'status |', '|---|---|---|---|---|---|---|'
    ]
    for row in rows:
        lines.append(f"| {row['name']} | {row['num_runs']} | "
                     f"{fmt(row['best'])} | {fmt(row['last'])} | "
                     f"{_num(row['published'])} | "
                     f"{_num(row['diff'], signed=True)} | {row['status']} |")
    lines += [
        '',
        to_pivot(rows), '', '## Runs', '',
        '| config | seed | best (epoch) | last (epoch) | max epochs | '
        'state | work dir |', '|---|---|---|---|---|---|---|'
    ]
    for row in rows:
        for run in row['runs']:
            lines.append(
                f"| {run['name']} | {run['seed']} | {_num(run['best'])} "
                f"({run['best_epoch']}) | {_num(run['last'])} "
                f"({run['last_epoch']}) | {run['max_epochs']} | "
                f"{'finished' if run['finished'] else 'running'} | "
                f"{run['work_dir']} |")
    return '\n'.join(lines) + '\n'


def to_pivot(rows: Sequence[dict]) -> str:
    """Rows = pairs, columns = methods: ``mean best (published)``."""
    pairs, methods, cells = [], [], {}
    for row in rows:
        if row['pair'] is None:
            continue
        key = (row['pair'], row['schedule'])
        if key not in pairs:
            pairs.append(key)
        if row['method'] not in methods:
            methods.append(row['method'])
        cell = fmt(row['best'])
        if row['published'] is not None:
            cell += f" ({row['published']:.2f})"
        cells[(key, row['method'])] = cell
    lines = [
        '## By pair', '', 'Mean best top-1 (published in brackets).', '',
        '| pair | ' + ' | '.join(methods) + ' |',
        '|---|' + '---|' * len(methods)
    ]
    for key in pairs:
        lines.append(f'| {key[0]} ({key[1]}) | ' +
                     ' | '.join(cells.get((key, m), '')
                                for m in methods) + ' |')
    return '\n'.join(lines)


def to_json(rows: Sequence[dict]) -> str:
    """The rows as indented JSON (std is null for a single run)."""
    return json.dumps(dict(rows=list(rows)), indent=2)
