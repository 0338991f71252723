# Copyright (c) mmenergykd contributors. All rights reserved.
"""Independent checks of the energy analysis outputs (CSV, summary,
pictures), shared by the API test and the command-line test.

Energies are recomputed here from a separately built teacher's logits with
``-T_E * logsumexp(logits / T_E)`` written out in float64 NumPy; groups from
the thresholds with the rule written out; shares counted from the CSV.
"""
import csv
import json
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np
import torch
from PIL import Image

COLUMNS = [
    'sample_idx', 'label', 'energy', 'group', 'teacher_pred',
    'teacher_confidence', 'teacher_margin'
]
PICTURES = ('energy_hist.png', 'class_shares.png', 'gallery_high.png',
            'gallery_mid.png', 'gallery_low.png', 'group_accuracy.png')


def read_outputs(out_dir: str):
    """``(rows, summary)``: the CSV rows as dicts and ``summary.json``."""
    with open(osp.join(out_dir, 'energies.csv'), newline='') as f:
        reader = csv.reader(f)
        header = next(reader)
        assert header == COLUMNS
        rows = [dict(zip(header, r)) for r in reader]
    with open(osp.join(out_dir, 'summary.json')) as f:
        summary = json.load(f)
    return rows, summary


def energy_formula(logits: np.ndarray, temperature: float) -> np.ndarray:
    """``-T * log(sum(exp(z / T)))`` in float64, max-shifted."""
    scaled = logits.astype(np.float64) / temperature
    top = scaled.max(axis=1, keepdims=True)
    return -temperature * (
        top[:, 0] + np.log(np.exp(scaled - top).sum(axis=1)))


def teacher_logits(teacher: torch.nn.Module, images: Sequence[torch.Tensor],
                   mean: float, std: float) -> np.ndarray:
    """The teacher's logits of uint8 CHW images, normalised by hand."""
    batch = torch.stack([img.float() for img in images])
    batch = (batch - mean) / std
    teacher.eval()
    with torch.no_grad():
        logits = teacher.head(teacher.extract_feat(batch))
    return logits.double().numpy()


def check_energies(rows: List[dict], logits: np.ndarray,
                   temperature: float) -> None:
    """Every CSV energy equals the formula; predictions, confidence and
    margin equal the teacher's softmax."""
    assert [int(r['sample_idx']) for r in rows] == list(range(len(logits)))
    energies = np.array([float(r['energy']) for r in rows])
    expected = energy_formula(logits, temperature)
    np.testing.assert_allclose(energies, expected, rtol=1e-5, atol=1e-4)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    ordered = np.sort(probs, axis=1)[:, ::-1]
    assert [int(r['teacher_pred']) for r in rows] == logits.argmax(1).tolist()
    np.testing.assert_allclose([float(r['teacher_confidence']) for r in rows],
                               ordered[:, 0],
                               atol=1e-5)
    np.testing.assert_allclose([float(r['teacher_margin']) for r in rows],
                               ordered[:, 0] - ordered[:, 1],
                               atol=1e-5)


def check_groups_and_shares(rows: List[dict], summary: dict) -> None:
    """Groups follow the thresholds; counts and shares follow the CSV."""
    low = summary['thresholds']['low']
    high = summary['thresholds']['high']
    counts: Dict[str, int] = dict(low=0, mid=0, high=0)
    for row in rows:
        energy = float(row['energy'])
        expected = 'low' if energy < low else 'high' if energy > high \
            else 'mid'
        assert row['group'] == expected, (row, low, high)
        counts[expected] += 1
    assert summary['num_samples'] == len(rows)
    assert summary['counts'] == counts
    for name, count in counts.items():
        assert summary['shares'][name] == count / len(rows)


def check_rule_thresholds(rows: List[dict], summary: dict) -> None:
    """Thresholds of the sorted-index rule over every CSV energy."""
    ordered = sorted(float(r['energy']) for r in rows)
    num = len(ordered)
    low_ratio, high_ratio = summary['low_ratio'], summary['high_ratio']
    assert summary['thresholds']['low'] == ordered[int(num * low_ratio)]
    assert summary['thresholds']['high'] == \
        ordered[num - int(num * high_ratio) - 1]


def check_weighted_accuracy(summary: dict, key: str) -> None:
    """Per-group top-1 weighted by group size equals the overall top-1."""
    top1, counts = summary[key], summary['counts']
    weighted = sum(top1[g] * counts[g]
                   for g in counts if counts[g]) / sum(counts.values())
    assert abs(weighted - top1['all']) < 1e-9


def check_pictures(out_dir: str) -> None:
    """Every picture exists and opens as a PNG of a sensible size."""
    for name in PICTURES:
        with Image.open(osp.join(out_dir, name)) as image:
            image.verify()
        with Image.open(osp.join(out_dir, name)) as image:
            assert image.format == 'PNG'
            assert image.size[0] >= 300 and image.size[1] >= 200
