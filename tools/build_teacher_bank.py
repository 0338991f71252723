# Copyright (c) mmenergykd contributors. All rights reserved.
"""Run a config's teacher once over every view of its training set.

Usage:
    python tools/build_teacher_bank.py CONFIG --out BANK [--dtype fp16|fp32]
        [--batch-size 256] [--workers N] [--resume]
    torchrun --nproc-per-node 2 tools/build_teacher_bank.py CONFIG \
        --out BANK --launcher pytorch
    python tools/build_teacher_bank.py --verify BANK [CONFIG]

The command line of :func:`mmenergykd.apis.build_teacher_bank` (see there).
After a kill, run the same command with ``--resume``; on a finished bank
``--resume`` checks every chunk and rebuilds only the damaged ones.
``--verify`` checks a bank's checksums (and with CONFIG that it fits that
config); the exit code is 1 when it is damaged, missing or does not fit.
"""
import argparse
import sys
from typing import Optional, Sequence

from mmengine.config import DictAction

from mmenergykd.apis import build_teacher_bank, verify_teacher_bank
from mmenergykd.models.teacher_bank import DTYPES


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Build an exact teacher bank (teacher logits per '
        'training sample and view), or check one with --verify.')
    parser.add_argument('config', nargs='?', help='the distillation config')
    parser.add_argument('--out', help='the bank directory')
    parser.add_argument(
        '--verify',
        metavar='BANK',
        help='check BANK (header, sizes, every chunk\'s checksum; with '
        'CONFIG also that it fits it) and exit')
    parser.add_argument('--dtype', choices=sorted(DTYPES), default='fp16')
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument(
        '--chunk-size',
        type=int,
        default=64,
        help='samples per chunk (the unit of progress, resume and checksums)')
    parser.add_argument(
        '--workers',
        type=int,
        default=1,
        help='local worker processes, each writing its own chunks')
    parser.add_argument(
        '--resume',
        action='store_true',
        help='finish an interrupted build; on a finished bank, rebuild only '
        'the chunks that fail their checksums')
    parser.add_argument(
        '--device',
        default=None,
        help='default: cuda if '
        'available, else cpu')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch'], default='none')
    parser.add_argument(
        '--sampled-crops',
        type=int,
        default=None,
        metavar='K',
        help='a sampled bank: K fixed RandomResizedCrop crops per image '
        '(x the flips), top-k logits + exact log-sum-exp')
    parser.add_argument('--view-seed', type=int, default=0)
    parser.add_argument('--topk', type=int, default=10)
    parser.add_argument(
        '--energy-temperature',
        type=float,
        default=4.0,
        help='T_E of the stored log-sum-exp (energy -T_E * lse)')
    parser.add_argument(
        '--kl-temperatures',
        type=float,
        nargs='+',
        default=[1.0, 4.0],
        help='where the top-k reconstruction error (KL) is measured')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if args.verify is None and (args.config is None or args.out is None):
        parser.error('CONFIG and --out are required (or --verify BANK)')
    for name in ('batch_size', 'chunk_size', 'workers', 'sampled_crops'):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def verify(args: argparse.Namespace) -> int:
    """Check ``args.verify``; print the result; the exit code."""
    try:
        done = verify_teacher_bank(args.verify, args.config, args.cfg_options)
    except (OSError, ValueError) as err:
        print(f'DAMAGED or unusable: {err}', file=sys.stderr, flush=True)
        return 1
    print(
        f"Teacher bank {args.verify}: OK, {done['chunks']} chunks "
        f"({done['bytes'] / 2**20:.1f} MiB) match their checksums "
        f"({done['seconds']:.2f} s).",
        flush=True)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.verify is not None:
        return verify(args)
    build_teacher_bank(
        args.config,
        args.out,
        launcher=args.launcher,
        dtype=args.dtype,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        workers=args.workers,
        resume=args.resume,
        device=args.device,
        sampled_crops=args.sampled_crops,
        view_seed=args.view_seed,
        topk=args.topk,
        energy_temperature=args.energy_temperature,
        kl_temperatures=args.kl_temperatures,
        cfg_options=args.cfg_options)
    return 0


if __name__ == '__main__':
    sys.exit(main())
