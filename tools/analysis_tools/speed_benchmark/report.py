# Copyright (c) mmenergykd contributors. All rights reserved.
"""The printed report of the speed benchmark: table, ratios, targets."""
from typing import List, Tuple


def _mb(num_bytes: float) -> str:
    return f'{num_bytes / 2**20:.0f}'


def _header(report: dict) -> List[str]:
    """Command, config, device, load and fast paths."""
    lines = []
    env = report['environment']
    if report.get('command'):
        lines.append(f"Command: {report['command']}")
    where = env.get('gpu') or (
        f"{env['cpu']}, {env['torch_threads']} threads, OMP_WAIT_POLICY="
        f"{env.get('omp_wait_policy')}")
    lines.append(f"Config: {report['config']}")
    lines.append(
        f"Device: {report['device']} ({where}); torch {env['torch']}; "
        f"batch {report['batch_size']} at {report['img_size']} px; "
        f"median of {report['settings']['iters']} steps after "
        f"{report['settings']['warmup']} warm-up rounds")
    if env.get('load_average'):
        lines.append('Load average (1/5/15 min) at start: ' +
                     ' / '.join(f'{v:.2f}'
                                for v in env['load_average_start']) +
                     '; at end: ' + ' / '.join(f'{v:.2f}'
                                               for v in env['load_average']) +
                     f" ({env['cpu_count']} CPUs)")
    fast = report['fast_paths']
    lines.append('Fast paths: ' + ', '.join(f'{k}={v}'
                                            for k, v in fast.items()))
    if report['settings']['teacher_ckpt'] is None:
        lines.append('Teacher: random weights (no --teacher-ckpt)')
    return lines


def _row_label(report: dict, name: str) -> str:
    """What a timing row measures."""
    labels = report['labels']
    names = dict(
        student='student step alone',
        teacher='teacher forward alone',
        kd=f"{labels['kd']} step",
        energykd=f"{labels['energykd']} step",
        calibration='calibration pass (ms per pass)',
        teacher_eval='plain teacher inference (ms per pass)',
        kd_loss=f"{labels['kd']} loss only (fwd+bwd)",
        energykd_loss=f"{labels['energykd']} loss + group shares only",
        energykd_bank=f"{labels['energykd']} step, teacher bank lookup",
        bank_build='teacher bank build (per (sample, view))')
    label = names.get(name)
    if label is None and name.startswith('heda@'):
        label = f"{labels['energykd']} + HE-DA, high_ratio " \
                f"{name.split('@')[1]} " \
                f"({report['heda_selected'][name.split('@')[1]]['expected']}" \
                f" mixed)"
    elif label is None and name.startswith('student_fb@'):
        label = f"student fwd+bwd on {name.split('@')[1]} images"
    elif label is None and name.startswith('teacher@'):
        label = f"teacher forward on {name.split('@')[1]} images"
    return label


def _table(report: dict, key: str = 'timings') -> List[str]:
    """The timing table (with peak memory when measured)."""
    rows: List[Tuple[str, ...]] = []
    for name, stats in report[key].items():
        mem = report['memory'].get(name)
        rows.append(
            (name, _row_label(report, name),
             f"{stats['median_s'] * 1e3:.2f}", f"{stats['images_per_s']:.1f}",
             _mb(mem['peak_bytes']) if mem else '-'))
    timer = report['settings'].get('timer', 'wall')
    header = ('variant', 'what',
              'median ms' + (' (CPU time)' if timer == 'process' else ''),
              'images/s', 'peak MiB')
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(5)]
    fmt = '  '.join('{:<%d}' % w if i < 2 else '{:>%d}' % w
                    for i, w in enumerate(widths))
    return ['', fmt.format(*header), '  '.join('-' * w for w in widths)
            ] + [fmt.format(*r) for r in rows]


def _step_ratios(report: dict) -> List[str]:
    """The limit, the step ratios, HE-DA and the calibration ratio."""
    labels, ratios = report['labels'], report['ratios']
    lines = [
        '', f"Limit = student step + teacher forward = "
        f"{ratios['limit_s'] * 1e3:.2f} ms",
        f"{labels['kd']} step / limit          = "
        f"{ratios['kd_over_limit']:.3f}",
        f"{labels['energykd']} step / limit   = "
        f"{ratios['energykd_over_limit']:.3f}",
        f"{labels['energykd']} / {labels['kd']} step       = "
        f"{ratios['energykd_over_kd']:.3f}",
        f"Energy logic alone (loss-only difference) = "
        f"{ratios['energy_logic_overhead_s'] * 1e3:.3f} ms = "
        f"{100 * ratios['energy_logic_overhead_over_kd_step']:.3f} % of the "
        f"{labels['kd']} step",
        'HE-DA (predicted = Energy KD step + student fwd+bwd(k) + '
        'teacher fwd(k), k mixed images):'
    ]
    for ratio, values in ratios['heda'].items():
        lines.append(
            f"  high_ratio {ratio:>4}: k={values['selected']:<3} "
            f"step/{labels['kd']} = {values['over_kd']:.3f}, predicted "
            f"{values['predicted_over_kd']:.3f} (linear "
            f"{values['linear_predicted_over_kd']:.3f}), measured/predicted "
            f"= {values['over_predicted']:.3f}")
    lines.append(f"Calibration / plain teacher inference (images/s) = "
                 f"{ratios['calibration_over_teacher_eval']:.3f}")
    return lines


def _memory_ratios(report: dict) -> List[str]:
    """The memory limit and ratios (when the probes ran)."""
    labels, ratios = report['labels'], report['ratios']
    if 'energykd_memory_over_limit' not in ratios:
        return []
    mem = report['memory']
    return [
        f"Memory limit = student step peak + teacher inference peak = "
        f"{_mb(mem['student']['peak_bytes'])} + "
        f"{_mb(mem['teacher']['peak_bytes'])} MiB "
        f"({next(iter(mem.values()))['method']})",
        f"{labels['kd']} peak / limit     = "
        f"{ratios['kd_memory_over_limit']:.3f}",
        f"{labels['energykd']} peak / limit = "
        f"{ratios['energykd_memory_over_limit']:.3f}"
    ]


def _bank_ratios(report: dict) -> List[str]:
    """The teacher-bank section (when the variant ran)."""
    bank, info = report['ratios'].get('bank'), report.get('teacher_bank')
    if not bank:
        return []
    label = report['labels']['energykd']
    kind = info['kind'] + (f", {info['num_crops']} crops x flips, top-"
                           f"{info['topk']}"
                           if info['kind'] == 'sampled' else '')
    diff = max(info['loss_max_abs_diff_vs_live'].values(), default=0.0)
    return [
        '', 'Teacher bank comparison (each step timed after an untimed one of '
        'the same variant, order rotating):'
    ] + _table(report, 'bank_timings')[1:] + [
        f"Teacher bank ({kind}; {info['num_views']} views per image, "
        f"{info['dtype']}): step = lookup + student step + loss",
        f"  {label} step with bank / student step alone = "
        f"{bank['over_student']:.3f}",
        f"  {label} step with bank / with live teacher  = "
        f"{bank['over_live']:.3f}",
        f"  {label} step with bank / live KD step       = "
        f"{bank['over_kd']:.3f}",
        f"  Build: {bank['build_per_view_s'] * 1e3:.3f} ms per (sample, "
        f"view) vs teacher forward {bank['teacher_per_image_s'] * 1e3:.3f}"
        f" ms per image: a bank costs {bank['build_epochs']:.1f} "
        'teacher-forward epochs',
        f"  Saves {bank['saved_epochs_per_epoch']:.3f} teacher-forward "
        f"epochs per training epoch; {bank['training_epochs']} epochs a "
        f"run: break-even after {bank['break_even_runs']:.2f} student "
        'runs per bank',
        f'  Losses with bank vs live teacher, same batch: max |diff| = '
        f'{diff:.2e}'
    ]


def format_report(report: dict) -> str:
    """The printed table and ratios."""
    lines = _header(report) + _table(report) + _step_ratios(
        report) + _bank_ratios(report) + _memory_ratios(report)
    lines.append('')
    lines.append('Targets (medians):')
    for key, target in report['targets'].items():
        lines.append(f"  {'MET ' if target['met'] else 'MISS'} {key} = "
                     f"{target['value']:.3f} (target {target['target']})")
    return '\n'.join(lines)
