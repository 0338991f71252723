# Copyright (c) mmenergykd contributors. All rights reserved.
"""The markdown tables of the digits benchmark and its output files."""
import json
import os.path as osp
from typing import Dict, Optional

from .check import check_table
from .settings import SMOKE_NOTE, log
from .statistics import LEVEL, POWER, t_quantile
from .timing import PARTS


def fmt(stat: Dict, sign: bool = False) -> str:
    """``mean [low, high]`` (the 95 % interval; the mean alone for one
    seed)."""
    spec = '+.2f' if sign else '.2f'
    mean = format(stat['mean'], spec)
    if not stat.get('ci'):
        return mean  # one seed: no spread to show
    low, high = stat['ci']
    return f'{mean} [{format(low, spec)}, {format(high, spec)}]'


def _cells(stat: dict, ref: str) -> list:
    """Difference, seeds above / below, verdict, detectable difference of
    one method against ``ref`` (empty cells when it is the reference)."""
    diff: Optional[dict] = stat.get(f'vs_{ref}', {}).get('last')
    if diff is None:
        return ['', '', '', '']
    detectable = diff['detectable']
    return [
        fmt(diff, sign=True), f"{diff['above']} / {diff['below']}",
        diff['verdict'], '' if detectable is None else f'{detectable:.2f}'
    ]


def markdown_table(results: dict) -> str:
    """The main table: top-1, paired differences to the student alone and
    to KD with their intervals and verdicts, and its notes."""
    teacher = results['teacher']
    summary = results['summary']
    settings = results['settings']
    smoke = ' (SMOKE TEST)' if settings.get('smoke_test') else ''
    lines = [
        f'| Method{smoke} | Last-epoch top-1 (%) | Best-epoch top-1 (%) | '
        'Δ vs student alone, last | Seeds above / below student | '
        'Verdict vs student | Detectable Δ vs student | Δ vs KD, last | '
        'Seeds above / below KD | Verdict vs KD | s / run |',
        '|---|---|---|---|---|---|---|---|---|---|---|',
        f"| Teacher ({teacher['model']}, "
        f"{teacher['params'] / 1e3:.0f} k params, 1 run) | "
        f"{teacher['last']:.2f} | {teacher['best']:.2f} | | | | | | | | "
        f"{teacher['seconds']:.0f} |",
    ]
    for stat in summary.values():
        vs_kd = _cells(stat, 'kd')
        lines.append(' | '.join(
            ['', stat['label'],
             fmt(stat['last']),
             fmt(stat['best'])] + _cells(stat, 'student') + vs_kd[:3] +
            [f"{stat['seconds']:.0f}", '']).strip())
    lines.append('')
    if settings.get('smoke_test'):
        lines.append(f'**{SMOKE_NOTE}.**\n')
    lines.append(_notes(results))
    return '\n'.join(lines)


def _notes(results: dict) -> str:
    """What the numbers of the main table are."""
    settings = results['settings']
    seeds = settings['seeds']
    teacher_text = f"{settings['teacher_epochs']} teacher epochs" if \
        results['teacher'].get('trained', True) else \
        'teacher from --teacher-ckpt'
    split = f"{settings['num_train']} training images"
    if settings.get('long_tailed'):
        split += (f" (long-tailed, imbalance {settings['imbalance_ratio']:g}:"
                  f" {settings['train_class_counts']} per digit 0-9)")
    text = (
        f"Held-out split: {settings['num_val']} images, balanced (one image "
        f"= {100 / settings['num_val']:.2f} points); {split}; student "
        f"{settings['student_model']} "
        f"({settings['student_params'] / 1e3:.1f} k params); {seeds} seed(s) "
        f"({', '.join(str(s) for s in settings['seed_list'])}); "
        f"{settings['epochs']} student epochs, {teacher_text}, "
        f"{settings['img_size']}x{settings['img_size']} "
        'input. At a given seed every method starts from the same student '
        'weights and sees the same batches and crops.')
    if seeds < 2:
        return text + ' One seed: no interval, no verdict.'
    t975 = t_quantile(0.5 + LEVEL / 2, seeds - 1)
    return text + (
        f' Top-1: mean [{100 * LEVEL:.0f} % t interval of the mean]. '
        'Δ: mean of the per-seed differences (method - reference, same '
        f'seed) [{100 * LEVEL:.0f} % paired-t interval: mean ± '
        f't({0.5 + LEVEL / 2:.3f}, {seeds - 1}) = {t975:.3f} x s_d / '
        f'sqrt({seeds})]. Verdict: *better* / *worse* when the interval '
        'excludes 0, else *no detectable difference*. Detectable Δ: the '
        f'true mean difference {seeds} seeds would detect with '
        f'{100 * POWER:.0f} % power at the observed spread '
        f'((t({0.5 + LEVEL / 2:.3f}) + t({POWER:.2f})) x s_d / '
        f'sqrt({seeds})); smaller true differences are likely missed. '
        f'"Best epoch" is the best of the evaluations{_every(settings)} on '
        'the same held-out images (optimistic); compare the last epoch.')


def _every(settings: dict) -> str:
    """When the runs were evaluated, e.g. ``every 3 epochs and at the
    end``."""
    interval = int(settings.get('val_interval', 1))
    if interval <= 1:
        return ' after every epoch'
    if interval >= int(settings.get('epochs', interval)):
        return ' (one, at the end)'
    return f' every {interval} epochs and at the end'


def _group_row(label: str, per_group: dict, names: tuple) -> str:
    cells = []
    for g in names:
        stat = per_group[g]
        if isinstance(stat, float):
            cells.append(f'{stat:.2f}')
            continue
        text = fmt(stat)
        diff = stat.get('vs_student')
        if diff is not None and diff.get('ci'):
            text += f" (Δ {fmt(diff, sign=True)})"
        cells.append(text)
    return f'| {label} | ' + ' | '.join(cells) + ' |'


def group_table(results: dict, key: str = 'energy_groups') -> str:
    """Student accuracy per teacher-energy group (``energy_groups``) or
    per class group (``class_groups``), per method."""
    groups = results[key]
    sizes = groups['val_sizes']
    names = tuple(sizes)
    what = 'teacher energy' if key == 'energy_groups' else \
        'class group (training images per class)'
    head = f'| Top-1 (%) on the held-out split, by {what} | ' + ' | '.join(
        f'{g} (n={sizes[g]})' for g in names) + ' |'
    lines = [head, '|---|' + '---|' * len(names)]
    lines.append(_group_row('Teacher', groups['teacher'], names))
    for name, per_group in groups['methods'].items():
        lines.append(
            _group_row(results['summary'][name]['label'], per_group, names))
    return '\n'.join(lines)


def timing_table(results: dict) -> str:
    """Mean seconds per part of a run, per method."""
    parts = PARTS
    lines = [
        '| Seconds per run (mean) | ' + ' | '.join(parts) + ' | total |',
        '|---|' + '---|' * (len(parts) + 1)
    ]
    for name, timing in results['timing'].items():
        lines.append(f"| {results['summary'][name]['label']} | " +
                     ' | '.join(f'{timing[p]:.1f}' for p in parts) +
                     f" | {results['summary'][name]['seconds']:.1f} |")
    return '\n'.join(lines)


def markdown_report(results: dict, workers: int, threads: int) -> str:
    """``results.md``: the command, the tables and the wall time."""
    machine = results['settings']['machine']
    settings = results['settings']
    smoke = f'**{SMOKE_NOTE}.**\n\n' if settings.get('smoke_test') else ''
    tables = [markdown_table(results), group_table(results)]
    if 'class_groups' in results:
        counts = results['class_groups']['train_counts']
        tables.append(
            group_table(results, 'class_groups') +
            '\n\nClass groups by training images per class: head = the 3 '
            'largest classes, tail = the 3 smallest, medium = the rest '
            f'({counts["head"]} / {counts["medium"]} / {counts["tail"]} '
            'training images).')
    bank = 'teacher bank (exact, fp32)' if settings.get('teacher_bank') \
        else 'live teacher in every step'
    if settings.get('plain'):
        bank += (' (--plain: also serialized dataset storage, formatted '
                 'configs)')
    tables.append(timing_table(results) + f'\n\nTeacher outputs: {bank}.')
    if 'check' in results:
        tables.append(
            check_table(results['check'], {
                name: stat['label']
                for name, stat in results['summary'].items()
            }))
    return (f"{smoke}Command: `{settings['command'].strip()}`\n\n" +
            '\n\n'.join(tables) + '\n\nWall time '
            f"{results['wall_seconds'] / 60:.1f} min on "
            f"{machine['cpu_count']} CPU core(s) ({machine['processor']}; "
            f'{workers} worker process(es), {threads} torch thread(s) each; '
            f"torch {machine['torch']}, CUDA "
            f"{'yes' if machine['cuda'] else 'no'}; load average at the start "
            f"{machine.get('load_start', 'n/a')}, at the end "
            f"{machine.get('load_end', 'n/a')}).\n")


def write_results(results: dict, md: str, work_dir: str) -> None:
    """Write ``results.json`` and ``results.md``."""
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(md)
    log('')
    log(md)
    log(f"Wrote {osp.join(work_dir, 'results.json')}, results.md and "
        f"{', '.join(results['plots'])} in {work_dir}")
