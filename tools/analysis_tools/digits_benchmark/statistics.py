# Copyright (c) mmenergykd contributors. All rights reserved.
"""Numbers of the digits benchmark: means over seeds, paired differences
(with 95 % paired-t intervals and a verdict), accuracy by the teacher's
energy group and by class group (long-tailed split)."""
import math
from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from scipy import stats as scipy_stats

from .settings import GROUP_NAMES, METHODS

#: Confidence level of every interval.
LEVEL = 0.95
#: Power of the smallest detectable difference.
POWER = 0.80
#: The methods every other method is compared with (paired, same seed).
REFERENCES = ('student', 'kd')
VERDICTS = ('better', 'no detectable difference', 'worse')


def t_quantile(prob: float, df: int) -> float:
    """The ``prob`` quantile of Student's t with ``df`` degrees of freedom
    (SciPy ships with scikit-learn, which the benchmark needs)."""
    return float(scipy_stats.t.ppf(prob, df))


def mean_std(values: Sequence[float]) -> Dict[str, float]:
    """Mean, sample standard deviation, 95 % t interval of the mean and
    count; one value: no spread (``std``, ``ci`` are None)."""
    arr = np.asarray(values, dtype=float)
    out = dict(mean=float(arr.mean()), std=None, ci=None, n=int(arr.size))
    if arr.size > 1:
        std = float(arr.std(ddof=1))
        half = t_quantile(0.5 + LEVEL / 2, arr.size - 1) * std / math.sqrt(
            arr.size)
        out.update(std=std, ci=[out['mean'] - half, out['mean'] + half])
    return out


def paired_difference(values: Sequence[float],
                      reference: Sequence[float]) -> dict:
    """Paired comparison of one method with a reference over seeds.

    ``d_i = values_i - reference_i`` (same seed: same initial weights, same
    batches). Interval: paired t, ``mean(d) +- t(0.975, n-1) * s_d / sqrt(n)``.
    Verdict at that level: *better* if the interval lies above 0, *worse*
    below, else *no detectable difference*. The smallest detectable
    difference is the true mean difference this seed count finds with 80 %
    power at that spread: ``(t(0.975, n-1) + t(0.80, n-1)) * s_d / sqrt(n)``.

    Returns:
        dict: ``diffs``, ``n``, ``mean``, ``std``, ``ci`` (None for one
        seed), ``above`` / ``below`` / ``ties`` (seeds), ``verdict``,
        ``detectable``.
    """
    d = np.asarray(values, float) - np.asarray(reference, float)
    n = int(d.size)
    out = dict(
        diffs=[float(x) for x in d],
        n=n,
        mean=float(d.mean()),
        std=None,
        ci=None,
        above=int((d > 0).sum()),
        below=int((d < 0).sum()),
        ties=int((d == 0).sum()),
        verdict='one seed: no interval',
        detectable=None,
        test='paired t')
    if n < 2:
        return out
    std = float(d.std(ddof=1))
    se = std / math.sqrt(n)
    half = t_quantile(0.5 + LEVEL / 2, n - 1) * se
    low, high = out['mean'] - half, out['mean'] + half
    verdict = VERDICTS[0] if low > 0 else VERDICTS[2] if high < 0 \
        else VERDICTS[1]
    out.update(
        std=std,
        ci=[low, high],
        verdict=verdict,
        detectable=(t_quantile(0.5 + LEVEL / 2, n - 1) +
                    t_quantile(POWER, n - 1)) * se)
    return out


def pick_thresholds(runs: Dict[str, List[dict]], train_energies: np.ndarray,
                    energy_cfg: dict) -> Tuple[List[float], str, float]:
    """The energy-group thresholds and HE-DA's threshold.

    From the calibrated Energy KD run when there is one (the Energy KD
    configs share T_E and the 0.2 / 0.2 rates; Energy DKD uses 0.1 / 0.1 and
    is not used here), else computed from the teacher's training energies.

    Returns:
        tuple: ``(thresholds, source, heda_threshold)``.
    """
    from mmenergykd.models.energy import sorted_index_thresholds
    source = None
    thresholds = None
    heda_threshold = None
    for method in sorted(runs, key=lambda m: m != 'energykd'):
        for run in runs[method]:
            pair = run['thresholds'].get('loss_energykd')
            if thresholds is None and pair is not None:
                thresholds, source = pair, f"{method}, seed {run['seed']}"
            pair = run['thresholds'].get('high_energy_augment')
            if heda_threshold is None and pair is not None:
                heda_threshold = pair[1]
    if thresholds is None:
        e = torch.from_numpy(train_energies)
        thresholds = list(
            sorted_index_thresholds(e, energy_cfg['low_ratio'],
                                    energy_cfg['high_ratio']))
        source = 'computed here: no Energy KD run in this benchmark'
    if heda_threshold is None:
        heda_threshold = sorted_index_thresholds(
            torch.from_numpy(train_energies), 0.0, energy_cfg['heda_ratio'])[1]
    return thresholds, source, heda_threshold


class ImageGroups:
    """The held-out images split into named groups (by the teacher's
    energy, or by their class's share of the training split), and
    accuracies per group.

    Args:
        index (np.ndarray): Group number of each held-out image.
        names (Sequence[str]): Group names, by number.
    """

    def __init__(self, index: np.ndarray, names: Sequence[str]):
        self.index = np.asarray(index)
        self.names = tuple(names)
        self.sizes = {
            g: int((self.index == i).sum())
            for i, g in enumerate(self.names)
        }

    @classmethod
    def by_energy(cls, val_energies: np.ndarray,
                  thresholds: Sequence[float]) -> 'ImageGroups':
        """Low / mid / high teacher energy."""
        index = np.where(val_energies < thresholds[0], 0,
                         np.where(val_energies > thresholds[1], 2, 1))
        return cls(index, GROUP_NAMES)

    @classmethod
    def by_class(cls, val_labels: np.ndarray,
                 class_group: Sequence[int]) -> 'ImageGroups':
        """Head / medium / tail classes (``class_group[c]``: 0, 1 or 2)."""
        return cls(
            np.asarray(class_group)[np.asarray(val_labels)],
            ('head', 'medium', 'tail'))

    def accuracy(self, correct: np.ndarray) -> Dict[str, float]:
        """Top-1 (%) per group of a boolean per-image correctness."""
        return {
            g:
            float(100 * correct[self.index == i].mean())
            if self.sizes[g] else float('nan')
            for i, g in enumerate(self.names)
        }

    def per_method(self, runs: Dict[str, List[dict]],
                   key: str) -> Dict[str, dict]:
        """Per method and group: mean / interval over seeds; each run's
        group accuracies are also stored in the run under ``key``."""
        out = OrderedDict()
        for method, method_runs in runs.items():
            for run in method_runs:
                run[key] = self.accuracy(
                    np.array(run['val_correct_last'], bool))
            out[method] = {
                g: mean_std([r[key][g] for r in method_runs])
                for g in self.names
            }
            if 'student' in runs and method != 'student':
                base = runs['student']
                for g in self.names:
                    out[method][g]['vs_student'] = paired_difference(
                        [r[key][g] for r in method_runs],
                        [r[key][g] for r in base])
        return out


def _method_summary(method: str, method_runs: List[dict]) -> dict:
    """Mean / spread over seeds of one method."""
    return dict(
        label=METHODS[method][1],
        config=f'configs/{METHODS[method][0]}',
        last=mean_std([r['last'] for r in method_runs]),
        best=mean_std([r['best'] for r in method_runs]),
        last_runs=[r['last'] for r in method_runs],
        best_runs=[r['best'] for r in method_runs],
        best_epochs=[r['best_epoch'] for r in method_runs],
        seconds=float(np.mean([r['seconds'] for r in method_runs])))


def summarize(runs: Dict[str, List[dict]]) -> dict:
    """Summary per method, with paired differences (last and best epoch)
    to each reference method of the benchmark (``vs_student``,
    ``vs_kd``). Runs of a method are in seed order, as the references'."""
    summary: Dict[str, dict] = OrderedDict()
    for method, method_runs in runs.items():
        stat = _method_summary(method, method_runs)
        for ref in REFERENCES:
            if ref not in runs or ref == method or method == 'student':
                continue  # (the student vs KD is KD vs the student)
            ref_runs = runs[ref]
            if [r['seed'] for r in ref_runs] != \
                    [r['seed'] for r in method_runs]:
                raise ValueError(f'{method} and {ref} ran other seeds.')
            stat[f'vs_{ref}'] = {
                key:
                paired_difference([r[key] for r in method_runs],
                                  [r[key] for r in ref_runs])
                for key in ('last', 'best')
            }
        summary[method] = stat
    return summary


def energy_group_results(groups: ImageGroups, thresholds: Sequence[float],
                         source: str, heda_threshold: float,
                         group_results: dict, energies: dict) -> dict:
    """The ``energy_groups`` entry of ``results.json``."""
    train, aug = energies['train'], energies['aug']
    return dict(
        thresholds=[float(t) for t in thresholds],
        threshold_source=source,
        heda_threshold=float(heda_threshold),
        val_sizes=groups.sizes,
        teacher=groups.accuracy(energies['teacher_val_correct']),
        methods=group_results,
        train_energy=dict(
            min=float(train.min()),
            max=float(train.max()),
            mean=float(train.mean()),
            share_below_low=float((train < thresholds[0]).mean()),
            share_above_high=float((train > thresholds[1]).mean())),
        train_energy_with_crops=dict(
            mean=float(aug.mean()),
            share_below_low=float((aug < thresholds[0]).mean()),
            share_above_high=float((aug > thresholds[1]).mean())))


def class_groups_of(train_counts: Sequence[int],
                    head: int = 3,
                    tail: int = 3) -> List[int]:
    """Group of each class by its training count: the ``head`` largest
    classes 0 (head), the ``tail`` smallest 2 (tail), the rest 1."""
    order = np.argsort(-np.asarray(train_counts), kind='stable')
    group = [1] * len(train_counts)
    for rank, c in enumerate(order):
        if rank < head:
            group[int(c)] = 0
        elif rank >= len(order) - tail:
            group[int(c)] = 2
    return group
