# Copyright (c) mmenergykd contributors. All rights reserved.
"""Where the teacher is unsure: the energy split of a config's data.

Usage:
    python tools/analysis_tools/analyze_energy.py CONFIG \
        [--checkpoint CKPT] [--split train|val] --out DIR

Runs the config's teacher (or its teacher bank, for the training split of
a config with ``model.teacher_bank``) over the split and writes
DIR/energies.csv (sample_idx, label, energy, group, teacher_pred,
teacher_confidence, teacher_margin), DIR/summary.json and summary.txt
(thresholds, counts, shares, top-1 per group) and pictures: the energy
histogram with the thresholds, group shares per class, galleries of the
highest-, middle- and lowest-energy images, and top-1 per group (the
student's too with a training checkpoint, whose thresholds are then used).
"""
import argparse

import torch
from mmengine.config import DictAction

from mmenergykd.apis import analyze_energy


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module doc)."""
    parser = argparse.ArgumentParser(
        description='Energy analysis of a distillation config: where the '
        'teacher is unsure.')
    parser.add_argument('config', help='a distillation config')
    parser.add_argument(
        '--checkpoint',
        help='a training checkpoint of the config: its energy thresholds '
        'split the data, and its student is evaluated per group')
    parser.add_argument(
        '--split',
        choices=['train', 'val'],
        default='train',
        help='train: the training set through the training pipeline, '
        'seeded per sample as the calibration pass (default); val: the '
        'validation set through the test pipeline')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--device', help="e.g. 'cpu' (default: 'cuda' when available)")
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch CPU threads (default 1: the small networks analysed on '
        'a CPU gain little from more, and several threads slow down badly '
        'when the cores are busy; raise it for large models)')
    parser.add_argument(
        '--gallery-size',
        type=int,
        default=16,
        help='images per gallery (default 16)')
    parser.add_argument(
        '--no-progress', action='store_true', help='no progress bar')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, as in tools/train.py')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    summary = analyze_energy(
        args.config,
        args.out,
        checkpoint=args.checkpoint,
        split=args.split,
        device=args.device,
        gallery_size=args.gallery_size,
        progress=not args.no_progress,
        cfg_options=args.cfg_options)
    with open(f'{args.out}/summary.txt') as f:
        print(f.read(), end='')
    print(f"Wrote {', '.join(summary['files'])} in {args.out} "
          f"({summary['seconds']:.1f} s)")


if __name__ == '__main__':
    main()
