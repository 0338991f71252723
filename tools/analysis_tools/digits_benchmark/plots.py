# Copyright (c) mmenergykd contributors. All rights reserved.
"""The three figures of the digits benchmark."""
import os.path as osp
from typing import List

import numpy as np

from .settings import SMOKE_NOTE

COLORS = dict(
    student='#8c8c8c',
    kd='C0',
    dkd='C2',
    energykd='C3',
    energykd_release='C4',
    energydkd='C5',
    kd_heda='C1',
    energykd_heda='C6',
    kd_random_mix='C9',
    deit='C8')


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _save(plt, fig, work_dir: str, name: str) -> str:
    path = osp.join(work_dir, name)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


VERDICT_COLORS = {
    'better': '#1a9850',
    'worse': '#d73027',
    'no detectable difference': '#555555',
    'one seed: no interval': '#555555'
}


def smoke_mark(fig, results: dict) -> None:
    """Stamp a --quick run's figure as a smoke test."""
    if results['settings'].get('smoke_test'):
        fig.text(
            0.5,
            0.995,
            SMOKE_NOTE,
            ha='center',
            va='top',
            fontsize=9,
            color='white',
            fontweight='bold',
            bbox=dict(facecolor='#d73027', edgecolor='none', pad=2))


def _half_width(stat: dict) -> float:
    return 0.0 if not stat.get('ci') else (stat['ci'][1] - stat['ci'][0]) / 2


def _panel_accuracy(ax, results: dict, names: List[str],
                    ypos: np.ndarray) -> None:
    """Last-epoch top-1: one dot per seed, the mean with its 95 % interval;
    the axis is cut (marked) to show the methods' range."""
    summary = results['summary']
    teacher = results['teacher']['last']
    seen = [teacher]
    for y, n in zip(ypos, names):
        runs = summary[n]['last_runs']
        seen.extend(runs)
        ax.plot(
            runs, [y] * len(runs),
            'o',
            ms=3.5,
            mfc='none',
            mec=COLORS[n],
            alpha=0.8)
        ax.errorbar(
            summary[n]['last']['mean'],
            y,
            xerr=_half_width(summary[n]['last']),
            fmt='D',
            ms=6,
            color='black',
            mfc=COLORS[n],
            capsize=3)
    ax.axvline(teacher, color='black', ls='--', lw=1.1)
    ax.text(
        teacher,
        ypos.max() + 0.6,
        f'teacher {teacher:.2f}',
        fontsize=8,
        ha='center')
    left = float(np.floor(min(seen) - 0.5))
    ax.set_xlim(left, 100.0)
    ax.set_ylim(ypos.min() - 0.7, ypos.max() + 1.0)
    # the axis does not start at 0: say so on the axis itself
    ax.text(
        0.0,
        -0.012,
        '//',
        transform=ax.transAxes,
        ha='center',
        va='center',
        fontsize=11,
        fontweight='bold',
        bbox=dict(facecolor='white', edgecolor='none', pad=0))
    ax.set_xlabel(f'last-epoch top-1 (%)\n(axis cut: starts at {left:g}, '
                  'not 0)')
    ax.set_title(
        'top-1: seeds (circles), mean\nwith 95 % t interval', fontsize=9)


def _panel_difference(ax, results: dict, names: List[str], ypos: np.ndarray,
                      ref: str) -> None:
    """Paired differences to ``ref`` (last epoch): per-seed differences,
    the mean and its 95 % paired-t interval, coloured by the verdict."""
    summary = results['summary']
    for y, n in zip(ypos, names):
        diff = summary[n].get(f'vs_{ref}', {}).get('last')
        if diff is None:
            if n != ref:
                continue  # the student alone has no difference to KD
            ax.text(
                0,
                y,
                'reference',
                ha='center',
                va='center',
                fontsize=8,
                color='#555555')
            continue
        color = VERDICT_COLORS[diff['verdict']]
        ax.plot(
            diff['diffs'], [y] * len(diff['diffs']),
            'o',
            ms=3,
            mfc='none',
            mec=color,
            alpha=0.7)
        ax.errorbar(
            diff['mean'],
            y,
            xerr=_half_width(diff),
            fmt='D',
            ms=6,
            color=color,
            capsize=3)
    ax.axvline(0, color='black', lw=1)
    label = summary[ref]['label'] if ref in summary else ref
    # Short lines: the panels sit side by side, and one-line titles and
    # labels ran into the next panel's.
    ax.set_xlabel(f'Δ top-1 vs {label}\n(points, same seed)')
    ax.set_title(
        f'paired Δ vs {label}:\n95 % paired-t interval\n'
        '(green better, red worse,\ngrey no detectable Δ)',
        fontsize=9)


def plot_accuracy(results: dict, work_dir: str) -> str:
    """``accuracy.png``: top-1 per method with intervals, and the paired
    differences to the student alone and to KD."""
    plt = _pyplot()
    summary = results['summary']
    settings = results['settings']
    names = list(summary)
    refs = [r for r in ('student', 'kd') if r in summary]
    ypos = np.arange(len(names))[::-1]
    fig, axes = plt.subplots(
        1,
        1 + len(refs),
        sharey=True,
        figsize=(5 + 4.0 * len(refs), 0.5 * len(names) + 3.0),
        gridspec_kw=dict(width_ratios=[1.3] + [1] * len(refs)))
    axes = np.atleast_1d(axes)
    _panel_accuracy(axes[0], results, names, ypos)
    for ax, ref in zip(axes[1:], refs):
        _panel_difference(ax, results, names, ypos, ref)
    axes[0].set_yticks(ypos)
    axes[0].set_yticklabels([summary[n]['label'] for n in names])
    lt = ' (long-tailed training split)' if settings.get('long_tailed') \
        else ''
    fig.suptitle(
        f"sklearn digits{lt}: student {settings['student_model']} from "
        f"teacher {results['teacher']['model']}; {settings['num_val']} "
        f"held-out images, {settings['seeds']} seed(s), "
        f"{settings['epochs']} epochs",
        fontsize=10,
        y=0.96 if settings.get('smoke_test') else 0.99)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    smoke_mark(fig, results)
    return _save(plt, fig, work_dir, 'accuracy.png')


def _threshold_marks(results: dict, train_energies: np.ndarray,
                     aug_energies: np.ndarray) -> list:
    """(value, color, line style, legend text) of each threshold."""
    settings = results['settings']
    groups = results['energy_groups']
    low, high = groups['thresholds']
    heda = groups.get('heda_threshold')

    def share(mask: np.ndarray) -> str:
        return f'{100 * mask.mean():.0f} %'

    marks = [
        (low, 'C2', '-', f'Energy KD low threshold {low:.2f}: target '
         f"{100 * settings['low_ratio']:.0f} % below (here "
         f'{share(train_energies < low)} / {share(aug_energies < low)})'),
        (high, 'C3', '-', f'Energy KD high threshold {high:.2f}: target '
         f"{100 * settings['high_ratio']:.0f} % above (here "
         f'{share(train_energies > high)} / '
         f'{share(aug_energies > high)})'),
    ]
    if heda is not None:
        marks.append((heda, 'C1', '--', f'HE-DA threshold {heda:.2f}: target '
                      f"{100 * settings['heda_ratio']:.0f} % above (here "
                      f'{share(train_energies > heda)} / '
                      f'{share(aug_energies > heda)})'))
    return marks


def plot_energy_hist(results: dict, train_energies: np.ndarray,
                     aug_energies: np.ndarray, work_dir: str) -> str:
    """``energy_hist.png``: the teacher's energies and the thresholds."""
    plt = _pyplot()
    settings = results['settings']
    groups = results['energy_groups']
    low, high = groups['thresholds']
    fig, ax = plt.subplots(figsize=(10, 4.6))
    lo_edge = min(train_energies.min(), aug_energies.min())
    hi_edge = max(train_energies.max(), aug_energies.max())
    bins = np.linspace(lo_edge, hi_edge, 61)
    ax.hist(
        train_energies,
        bins=bins,
        color='#7a9cc6',
        edgecolor='white',
        label='training images as they are')
    ax.hist(
        aug_energies,
        bins=bins,
        histtype='step',
        color='#1f3b73',
        lw=1.5,
        label='the same with the training crops '
        '(what calibration sees)')
    ax.axvspan(lo_edge, low, color='C2', alpha=0.10, lw=0)
    ax.axvspan(high, hi_edge, color='C3', alpha=0.10, lw=0)
    for value, color, ls, text in _threshold_marks(results, train_energies,
                                                   aug_energies):
        ax.axvline(value, color=color, ls=ls, lw=2, label=text)
    ax.set_xlabel('teacher energy  E(x) = -T logsumexp(z / T),  T = '
                  f"{settings['energy_temperature']:g}     "
                  '(left: confident, right: uncertain)')
    ax.set_ylabel('training images')
    source = groups['threshold_source']
    where = ('computed from these energies (no Energy KD run)'
             if source.startswith('computed') else
             f"calibrated in the run '{source}'")
    ax.set_title(
        f'Teacher energy on the {len(train_energies)} training '
        f'images; thresholds {where}\n(shares: images as they '
        'are / with crops; the calibration pass uses the crops '
        'and drops the last partial batch)',
        fontsize=9.5)
    ax.legend(fontsize=8, loc='upper left')
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    smoke_mark(fig, results)
    return _save(plt, fig, work_dir, 'energy_hist.png')


def _group_columns(results: dict) -> List[tuple]:
    """(results key, group name, column title) of each column: the energy
    groups, then (long-tailed runs) the class groups."""
    cols = []
    for key, what in (('energy_groups', 'energy teacher'), ('class_groups',
                                                            'classes')):
        if key not in results:
            continue
        for g, size in results[key]['val_sizes'].items():
            cols.append((key, g, f'{g}-{what}\n(n = {size})'))
    return cols


def _group_cells(results: dict, names: List[str], cols: List[tuple]) -> tuple:
    """Means, 95 % half-widths and differences to the student alone (the
    colour) of the per-group table; the teacher is row 0."""
    means = np.array(
        [[results[k]['teacher'][g] for k, g, _ in cols]] +
        [[results[k]['methods'][n][g]['mean'] for k, g, _ in cols]
         for n in names])
    halves = np.array(
        [[0.0] * len(cols)] +
        [[_half_width(results[k]['methods'][n][g]) for k, g, _ in cols]
         for n in names])
    if 'student' in names:
        gains = means - means[1 + names.index('student')]
        gains[0] = np.nan  # the teacher row stays grey
        limit = max(1.0, float(np.nanmax(np.abs(gains[1:]))))
    else:
        gains = np.full_like(means, np.nan)
        limit = 1.0
    return means, halves, gains, limit


def _write_cells(ax, means: np.ndarray, halves: np.ndarray, gains: np.ndarray,
                 limit: float) -> None:
    for i in range(means.shape[0]):
        for j in range(means.shape[1]):
            text = f'{means[i, j]:.1f}'
            if i > 0 and halves[i, j] > 0:
                text += f' ± {halves[i, j]:.1f}'
            dark = i > 0 and abs(np.nan_to_num(gains[i, j])) > 0.6 * limit
            ax.text(
                j,
                i,
                text,
                ha='center',
                va='center',
                fontsize=8.5,
                color='white' if dark else 'black',
                fontweight='bold' if i == 0 else 'normal')


def plot_energy_groups(results: dict, work_dir: str) -> str:
    """``energy_groups.png``: student accuracy per teacher-energy group
    (and per class group for the long-tailed split), an annotated table."""
    plt = _pyplot()
    names = list(results['summary'])
    low, high = results['energy_groups']['thresholds']
    cols = _group_columns(results)
    rows = ['Teacher'] + [results['summary'][n]['label'] for n in names]
    means, halves, gains, limit = _group_cells(results, names, cols)
    cmap = plt.get_cmap('PiYG').with_extremes(bad='#e6e6e6')
    fig, ax = plt.subplots(
        figsize=(3.0 * len(cols) + 4.5, 0.5 * len(rows) + 2.6))
    image = ax.imshow(
        np.ma.masked_invalid(gains),
        cmap=cmap,
        vmin=-limit,
        vmax=limit,
        aspect='auto')
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label(
        'mean points above (green) / below (pink) the student alone',
        fontsize=8)
    _write_cells(ax, means, halves, gains, limit)
    ax.axhline(0.5, color='black', lw=1.5)
    if len(cols) > 3:
        ax.axvline(2.5, color='black', lw=1.5)
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels([c[2] for c in cols], fontsize=8.5)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows)
    seeds = results['settings']['seeds']
    spread = '' if seeds < 2 else ' ± 95 % t half-width'
    ax.set_title(
        f'Top-1 (%) on the held-out split by group (last epoch, mean{spread}'
        f' over {seeds} seed(s))\nenergy groups by the Energy KD '
        f'thresholds: E < {low:.2f} low, E > {high:.2f} high' +
        ('; class groups by training images per class'
         if 'class_groups' in results else ''),
        fontsize=9,
        pad=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    smoke_mark(fig, results)
    return _save(plt, fig, work_dir, 'energy_groups.png')


def make_plots(results: dict, train_energies: np.ndarray,
               aug_energies: np.ndarray, work_dir: str) -> List[str]:
    """Write accuracy.png, energy_hist.png and energy_groups.png."""
    return [
        plot_accuracy(results, work_dir),
        plot_energy_hist(results, train_energies, aug_energies, work_dir),
        plot_energy_groups(results, work_dir)
    ]
