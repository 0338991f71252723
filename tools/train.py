# Copyright (c) mmenergykd contributors. All rights reserved.
"""Train with an mmenergykd config (MMPretrain's tools/train.py flags)."""
import argparse
import os.path as _osp
import sys

# Run from a checkout: use this repository's mmenergykd, not a stale copy.
sys.path.insert(0, _osp.dirname(_osp.dirname(_osp.abspath(__file__))))
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import mmenergykd  # noqa: F401  (registers components and loaders)
from mmenergykd.engine import (apply_reliability_defaults,
                               check_epoch_settings, find_resumable_checkpoint,
                               setup_cpu_distributed, shutdown_distributed)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a distiller')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest checkpoint '
        'in the work dir when no path is given')
    parser.add_argument(
        '--amp', action='store_true', help='mixed precision training')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr with the total batch size (base 256)')
    parser.add_argument(
        '--no-pin-memory', action='store_true', help='disable pin_memory')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='disable persistent_workers')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line to the config."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        assert optim_wrapper in ('OptimWrapper', 'AmpOptimWrapper'), \
            '`--amp` is not supported with this optim_wrapper type.'
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        # The newest *complete* checkpoint (MMEngine would trust
        # work_dir/last_checkpoint blindly).
        latest = find_resumable_checkpoint(cfg.work_dir) \
            if osp.isdir(cfg.work_dir) else None
        cfg.resume = latest is not None
        cfg.load_from = latest
        if latest is None:
            print(f'--resume: no checkpoint in {cfg.work_dir}; training '
                  'from the start.')
    elif args.resume is not None:
        if not args.resume.startswith(('http://', 'https://')) \
                and not osp.isfile(args.resume):
            raise FileNotFoundError(
                f'--resume {args.resume}: no such checkpoint file. Pass an '
                'existing checkpoint, or `--resume` alone to continue from '
                'the newest checkpoint in the work dir.')
        cfg.resume = True
        cfg.load_from = args.resume
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True

    def set_loader_flag(key: str, value: bool) -> None:
        for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            if cfg.get(name) is not None:
                cfg[name][key] = value

    if args.no_pin_memory:
        set_loader_flag('pin_memory', False)
    if args.no_persistent_workers:
        set_loader_flag('persistent_workers', False)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # Exact resumption (per-batch seeding, mid-epoch resume) and crash-safe
    # checkpoints, unless the config names its own loop / checkpoint hook.
    apply_reliability_defaults(cfg)
    check_epoch_settings(cfg)
    load_from = cfg.get('load_from')
    if isinstance(load_from, str) and '://' not in load_from \
            and not osp.isfile(osp.expanduser(load_from)):
        raise FileNotFoundError(
            f'`load_from` {load_from!r}: no such checkpoint file. Pass an '
            'existing distiller training checkpoint (to start from a plain '
            "classifier's weights use `model.student.init_cfg=dict(type="
            "'Pretrained', checkpoint=...)`).")
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    # torchrun on a machine without CUDA: gloo, no torch.cuda.set_device.
    setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    shutdown_distributed()


if __name__ == '__main__':
    main()
