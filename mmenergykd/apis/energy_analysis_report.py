# Copyright (c) mmenergykd contributors. All rights reserved.
"""What the energy analysis writes: the CSV, the summary, the pictures."""
import csv
import json
import math
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from mmenergykd.models.energy import assign_energy_groups
from mmenergykd.visualization import (GROUP_NAMES, plot_class_shares,
                                      plot_energy_histogram, plot_gallery,
                                      plot_group_accuracy, save_figure)

__all__ = [
    'CSV_COLUMNS', 'split_groups', 'write_energies_csv', 'summarize',
    'write_summary', 'draw_pictures'
]

#: The columns of ``energies.csv``, in order.
CSV_COLUMNS = ('sample_idx', 'label', 'energy', 'group', 'teacher_pred',
               'teacher_confidence', 'teacher_margin')


def split_groups(energies: np.ndarray, low: float, high: float) -> np.ndarray:
    """Group per sample by the rule of training: 0 low (``E < low``), 2 high
    (``E > high``), 1 middle otherwise.

    Args:
        energies (np.ndarray): float32 energies (N,).
        low (float): ``tau_low``.
        high (float): ``tau_high``.

    Returns:
        np.ndarray: int64 groups (N,).
    """
    values = torch.from_numpy(np.asarray(energies, dtype=np.float32))
    return assign_energy_groups(values, torch.tensor(float(low)),
                                torch.tensor(float(high))).numpy()


def _num(value: float) -> str:
    """A float32 value printed so that it reads back exactly, as float64
    too (the shortest repr of its float64 value): a reader comparing the
    CSV energies with the summary's thresholds gets the groups of the
    file."""
    return repr(float(value))


def write_energies_csv(path: str, records: Dict[str, np.ndarray],
                       groups: np.ndarray) -> str:
    """One row per sample: :data:`CSV_COLUMNS`.

    Args:
        path (str): The CSV file.
        records (dict): What :func:`~.energy_analysis_pass.energy_pass`
            returns.
        groups (np.ndarray): Group per sample.

    Returns:
        str: ``path``.
    """
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(CSV_COLUMNS)
        for i in range(len(groups)):
            writer.writerow([
                int(records['sample_idx'][i]),
                int(records['label'][i]),
                _num(records['energy'][i]), GROUP_NAMES[int(groups[i])],
                int(records['teacher_pred'][i]),
                _num(records['confidence'][i]),
                _num(records['margin'][i])
            ])
    return path


def _top1(pred: np.ndarray, labels: np.ndarray,
          mask: np.ndarray) -> Optional[float]:
    mask = mask & (labels >= 0)
    if not mask.any():
        return None
    return float(100.0 * (pred[mask] == labels[mask]).mean())


def _per_group_top1(pred: np.ndarray, labels: np.ndarray,
                    groups: np.ndarray) -> Dict[str, Optional[float]]:
    out = {'all': _top1(pred, labels, np.ones(len(labels), dtype=bool))}
    for index, name in enumerate(GROUP_NAMES):
        out[name] = _top1(pred, labels, groups == index)
    return out


def summarize(records: Dict[str, np.ndarray], groups: np.ndarray,
              class_names: Optional[Sequence[str]], meta: dict) -> dict:
    """Counts, shares, accuracies and per-class shares of the split.

    Args:
        records (dict): What ``energy_pass`` returns.
        groups (np.ndarray): Group per sample.
        class_names (Sequence[str], optional): Name per class index.
        meta (dict): Settings to record (config, thresholds, ...).

    Returns:
        dict: The summary (``summary.json``). Accuracies are top-1 in %,
        None for a group without labelled samples.
    """
    num = len(groups)
    counts = {n: int((groups == i).sum()) for i, n in enumerate(GROUP_NAMES)}
    labels = records['label']
    summary = dict(meta)
    summary.update(
        num_samples=num,
        counts=counts,
        shares={
            n: c / num
            for n, c in counts.items()
        },
        mean_energy={
            n:
            float(records['energy'][groups == i].mean()) if counts[n] else None
            for i, n in enumerate(GROUP_NAMES)
        },
        teacher_top1=_per_group_top1(records['teacher_pred'], labels, groups))
    if 'student_pred' in records:
        summary['student_top1'] = _per_group_top1(records['student_pred'],
                                                  labels, groups)
    per_class = {}
    for cls in sorted(int(c) for c in np.unique(labels) if c >= 0):
        mine = groups[labels == cls]
        name = class_names[cls] if class_names and cls < len(
            class_names) else str(cls)
        per_class[str(name)] = {
            n: int((mine == i).sum())
            for i, n in enumerate(GROUP_NAMES)
        }
    summary['per_class_counts'] = per_class
    return summary


def _fmt(value: Optional[float]) -> str:
    return '-' if value is None else f'{value:.2f}'


def _summary_text(summary: dict) -> str:
    low, high = summary['thresholds']['low'], summary['thresholds']['high']
    lines = [
        f"Energy analysis of {summary['config']}",
        f"split: {summary['split']} ({summary['num_samples']} samples; "
        f"{summary['pipeline']})",
        f"teacher logits: {summary['teacher_source']}",
        f"T_E = {summary['energy_temperature']:g}; groups of "
        f"{summary['consumer'] or 'the Energy KD defaults'} (low_ratio "
        f"{summary['low_ratio']:g}, high_ratio {summary['high_ratio']:g})",
        f'thresholds: tau_low = {low:.6g}, tau_high = {high:.6g} '
        f"({summary['threshold_source']})", f"rule: {summary['group_rule']}",
        '', 'group  count   share   mean E   teacher top-1' +
        ('   student top-1' if 'student_top1' in summary else '')
    ]
    for name in GROUP_NAMES + ('all', ):
        count = summary['num_samples'] if name == 'all' else \
            summary['counts'][name]
        share = 1.0 if name == 'all' else summary['shares'][name]
        energy = summary['mean_energy'].get(name)
        row = (f'{name:<5} {count:>6}  {100 * share:5.1f} %  '
               f"{'-' if energy is None else f'{energy:7.3f}':>7}   "
               f"{_fmt(summary['teacher_top1'][name]):>13}")
        if 'student_top1' in summary:
            row += f"   {_fmt(summary['student_top1'][name]):>13}"
        lines.append(row)
    hard = sorted(
        summary['per_class_counts'].items(),
        key=lambda kv: -kv[1]['high'] / max(sum(kv[1].values()), 1))[:5]
    lines += [
        '', 'classes with the largest high-energy share: ' +
        ', '.join(f"{name} ({100 * c['high'] / max(sum(c.values()), 1):.0f} %)"
                  for name, c in hard)
    ]
    return '\n'.join(lines) + '\n'


def write_summary(out_dir: str, summary: dict) -> List[str]:
    """``summary.json`` (strict JSON: None for no value) and
    ``summary.txt``.

    Args:
        out_dir (str): The output folder.
        summary (dict): What :func:`summarize` returns.

    Returns:
        list[str]: The two files.
    """
    json_path = osp.join(out_dir, 'summary.json')
    with open(json_path, 'w') as f:
        json.dump(summary, f, indent=2, allow_nan=False)
        f.write('\n')
    text_path = osp.join(out_dir, 'summary.txt')
    with open(text_path, 'w') as f:
        f.write(_summary_text(summary))
    return [json_path, text_path]


def _caption(records: dict, i: int, names: Optional[Sequence[str]]) -> str:

    def name(cls: int) -> str:
        text = names[cls] if names and 0 <= cls < len(names) else str(cls)
        return str(text)[:12]

    lines = [
        f"#{int(records['sample_idx'][i])}  label {name(int(records['label'][i]))}",  # noqa: E501
        f"E = {float(records['energy'][i]):.3f}"
    ]
    for k in range(3):
        cls = int(records['top3'][i][k])
        if cls >= 0:
            lines.append(f"{k + 1}. {name(cls)}  "
                         f"{float(records['top3_prob'][i][k]):.2f}")
    return '\n'.join(lines)


def _gallery_indices(energies: np.ndarray, size: int) -> Dict[str, list]:
    order = np.argsort(energies, kind='stable')
    size = min(size, len(order))
    start = max(0, min(len(order) - size, (len(order) - size) // 2))
    return dict(
        high=order[::-1][:size].tolist(),
        mid=order[start:start + size].tolist(),
        low=order[:size].tolist())


def draw_pictures(out_dir: str, records: dict, groups: np.ndarray,
                  summary: dict, class_names: Optional[Sequence[str]],
                  images: Callable[[List[int]], List[np.ndarray]],
                  gallery_size: int) -> List[str]:
    """Histogram, class shares, three galleries, accuracy per group.

    Args:
        out_dir (str): The output folder.
        records (dict): What ``energy_pass`` returns.
        groups (np.ndarray): Group per sample.
        summary (dict): What :func:`summarize` returns.
        class_names (Sequence[str], optional): Name per class index.
        images (callable): Dataset indices -> the images the teacher saw.
        gallery_size (int): Images per gallery.

    Returns:
        list[str]: The PNG files written.
    """
    low, high = summary['thresholds']['low'], summary['thresholds']['high']
    where = f"{summary['num_samples']} {summary['split']} samples"
    files = [
        save_figure(
            plot_energy_histogram(records['energy'], low, high,
                                  summary['energy_temperature'],
                                  f'Teacher energy on {where}'),
            osp.join(out_dir, 'energy_hist.png')),
        save_figure(
            plot_class_shares(records['label'], groups, class_names),
            osp.join(out_dir, 'class_shares.png'))
    ]
    titles = dict(
        high='highest energy: the teacher is least sure',
        mid='middle energy (around the median)',
        low='lowest energy: the teacher is surest')
    for name, indices in _gallery_indices(records['energy'],
                                          gallery_size).items():
        fig = plot_gallery(
            images(indices),
            [_caption(records, i, class_names) for i in indices],
            f'{titles[name]} ({where}); red: teacher top-1 wrong',
            colors=[
                'black' if records['teacher_pred'][i] == records['label'][i]
                else '#c0392b' for i in indices
            ])
        files.append(
            save_figure(fig, osp.join(out_dir, f'gallery_{name}.png')))
    counts = [summary['counts'][n] for n in GROUP_NAMES]

    def top1(key: str) -> Optional[list]:
        if key not in summary:
            return None
        values = summary[key]
        return [
            math.nan if values[n] is None else values[n] for n in GROUP_NAMES
        ]

    files.append(
        save_figure(
            plot_group_accuracy(
                top1('teacher_top1'),
                counts,
                top1('student_top1'),
                title=f'Top-1 per teacher-energy group ({where})'),
            osp.join(out_dir, 'group_accuracy.png')))
    return files
