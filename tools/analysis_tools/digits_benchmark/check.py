# Copyright (c) mmenergykd contributors. All rights reserved.
"""Same seed, two pipelines: do the speed-ups change any result?

``--check-against OTHER/results.json`` compares every (method, seed) run of
this benchmark with the same run in another one, typically the default
(fast) run against a ``--plain`` run: the last-epoch top-1, which held-out
images the final student gets right, the accuracies at the epochs both
evaluated, and the calibrated energy thresholds. Two existing files can be
compared without training anything::

    python tools/analysis_tools/digits_benchmark/check.py \
        work_dirs/digits_benchmark/results.json OTHER/results.json
"""
import argparse
import json
import sys
from typing import Dict, List, Optional, Sequence

#: Thresholds are floats computed by the same code on the same numbers;
#: anything beyond rounding counts as a difference.
THRESHOLD_TOLERANCE = 1e-6


def _by_epoch(run: dict, settings: dict) -> Dict[int, float]:
    """Epoch -> top-1 of a run's evaluations (results of earlier releases
    have no ``curve_epochs``: every ``val_interval`` epochs and the last)."""
    epochs = run.get('curve_epochs')
    if epochs is None:
        epochs = evaluated_epochs(settings['epochs'],
                                  settings.get('val_interval', 1))
    return dict(zip(epochs, run['curve']))


def evaluated_epochs(epochs: int, interval: int) -> List[int]:
    """The epochs MMEngine evaluates a run of ``epochs`` at with
    ``val_interval=interval``: every ``interval`` epochs and the last."""
    count = -(-epochs // interval)
    return [min(interval * (i + 1), epochs) for i in range(count)]


def _common_curve(run: dict, other: dict, settings: dict,
                  other_settings: dict) -> List[tuple]:
    """``(epoch, top-1 here, top-1 there)`` at the epochs both runs
    evaluated."""
    here = _by_epoch(run, settings)
    there = _by_epoch(other, other_settings)
    return [(e, here[e], there[e]) for e in sorted(set(here) & set(there))]


def _thresholds_equal(run: dict, other: dict) -> bool:
    """Whether two runs calibrated the same consumers to the same
    thresholds (``a == b`` also covers the infinite low threshold of a
    consumer without one)."""
    mine, theirs = run.get('thresholds', {}), other.get('thresholds', {})
    if mine.keys() != theirs.keys():
        return False
    if any(len(mine[key]) != len(theirs[key]) for key in mine):
        return False
    return all(
        abs(a - b) <= THRESHOLD_TOLERANCE or a == b for key in mine
        for a, b in zip(mine[key], theirs[key]))


def compare_runs(results: dict, other: dict) -> dict:
    """Run-by-run comparison of two benchmark results (``results.json``
    contents) for the (method, seed) pairs both have.

    The best-epoch top-1 is not compared: it depends on how often each
    run was evaluated. Equal accuracies at every common epoch and the same
    last epoch are what the speed-ups must keep.

    Returns:
        dict: ``rows`` (one per pair: method, seed, last top-1 in each,
        ``same_images``, ``curve_points`` and ``curve_equal``,
        ``thresholds_equal``, ``identical``), ``identical`` (all rows, and
        at least one), ``max_abs_diff`` (largest last-epoch top-1
        difference, points) and ``unmatched`` (``method/seed`` of the runs
        only one side has).
    """
    rows, unmatched = [], []
    methods = list(results['runs']) + [
        m for m in other['runs'] if m not in results['runs']
    ]
    for method in methods:
        mine = {r['seed']: r for r in results['runs'].get(method, [])}
        theirs = {r['seed']: r for r in other['runs'].get(method, [])}
        unmatched += [
            f'{method}/{seed}' for seed in sorted(set(mine) ^ set(theirs))
        ]
        for seed in sorted(set(mine) & set(theirs)):
            run, match = mine[seed], theirs[seed]
            curve = _common_curve(run, match, results['settings'],
                                  other['settings'])
            row = dict(
                method=method,
                seed=run['seed'],
                last=run['last'],
                other_last=match['last'],
                same_images=run['val_correct_last'] ==
                match['val_correct_last'],
                curve_points=len(curve),
                curve_equal=all(a == b for _, a, b in curve),
                thresholds_equal=_thresholds_equal(run, match))
            row['identical'] = (
                row['last'] == row['other_last'] and row['same_images']
                and row['curve_equal'] and row['thresholds_equal'])
            rows.append(row)
    return dict(
        other=other['settings'].get('command', '').strip(),
        other_path=None,
        unmatched=unmatched,
        rows=rows,
        identical=bool(rows) and all(r['identical'] for r in rows),
        max_abs_diff=max((abs(r['last'] - r['other_last']) for r in rows),
                         default=0.0))


def load_and_compare(results: dict, path: str) -> dict:
    """:func:`compare_runs` against the ``results.json`` at ``path``."""
    with open(path) as f:
        other = json.load(f)
    check = compare_runs(results, other)
    check['other_path'] = path
    return check


def check_table(check: dict, labels: Dict[str, str]) -> str:
    """The markdown table of a :func:`compare_runs` result."""
    where = f"`{check['other_path']}` " if check.get('other_path') else ''
    lines = [
        f"Same runs in {where}(`{check['other']}`):",
        '',
        '| Method | Seed | Last top-1 here | There | Same images right | '
        'Equal at common epochs | Same thresholds |',
        '|---|---|---|---|---|---|---|',
    ]
    for r in check['rows']:
        lines.append(
            f"| {labels.get(r['method'], r['method'])} | {r['seed']} | "
            f"{r['last']:.2f} | {r['other_last']:.2f} | "
            f"{'yes' if r['same_images'] else 'NO'} | "
            f"{'yes' if r['curve_equal'] else 'NO'} "
            f"({r['curve_points']}) | "
            f"{'yes' if r['thresholds_equal'] else 'NO'} |")
    if not check['rows']:
        verdict = 'no run (method and seed) in common'
    elif check['identical']:
        verdict = 'every run identical'
    else:
        verdict = ('runs DIFFER: largest last-epoch difference '
                   f"{check['max_abs_diff']:.2f} points")
    lines += ['', f"{len(check['rows'])} run(s) compared: {verdict}."]
    unmatched = check.get('unmatched') or []
    if unmatched:
        shown = ', '.join(
            unmatched[:6]) + (', ...' if len(unmatched) > 6 else '')
        lines.append(f'{len(unmatched)} run(s) in one file only, not '
                     f'compared: {shown}.')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Compare two ``results.json``; exit status 1 when a run differs."""
    parser = argparse.ArgumentParser(
        description='Run-by-run comparison of two digits benchmark results '
        '(same method and seed): last top-1, images right, curves, '
        'thresholds.')
    parser.add_argument('results', help='a results.json')
    parser.add_argument('other', help='the results.json to compare with')
    args = parser.parse_args(argv)
    with open(args.results) as f:
        results = json.load(f)
    check = load_and_compare(results, args.other)
    labels = {
        name: stat['label']
        for name, stat in results.get('summary', {}).items()
    }
    print(check_table(check, labels))
    return 0 if check['identical'] else 1


if __name__ == '__main__':
    sys.exit(main())
