# Copyright (c) mmenergykd contributors. All rights reserved.
"""Evaluate a distiller checkpoint (the student) with the config's test set."""
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
from mmenergykd.engine import setup_cpu_distributed


TRAINING_ONLY_HOOKS = ('EnergyCalibrationHook', 'HighEnergyAugmentHook')


def _hook_type(hook) -> str:
    """The registered name of a hook config (``'scope.Name'`` -> Name)."""
    hook_type = hook.get('type', '') if isinstance(hook, dict) else hook
    if not isinstance(hook_type, str):
        hook_type = getattr(hook_type, '__name__', '')
    return hook_type.split('.')[-1]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a distilled student')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the results')
    parser.add_argument('--out', help='dump the predictions to a pickle file')
    parser.add_argument(
        '--amp', action='store_true', help='mixed precision inference')
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


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.amp:
        cfg.test_cfg = dict(cfg.get('test_cfg') or {}, fp16=True)
    if args.out is not None:
        cfg.test_evaluator = [
            *(cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else
              [cfg.test_evaluator]),
            dict(type='DumpResults', out_file_path=args.out)
        ]
    # The training-only hooks (calibration, HE-DA) are not needed to test;
    # the config's other hooks (e.g. EMAHook, visualisation) stay, as in
    # MMPretrain's tools/test.py.
    cfg.custom_hooks = [
        hook for hook in cfg.get('custom_hooks', None) or []
        if _hook_type(hook) not in TRAINING_ONLY_HOOKS
    ]
    # torchrun on a machine without CUDA: gloo, no torch.cuda.set_device.
    setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    runner.test()


if __name__ == '__main__':
    main()
