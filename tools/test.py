# Copyright (c) mmenergykd contributors. All rights reserved.
"""Evaluate a distiller checkpoint (the student) with the config's test set."""
import argparse
import os.path as _osp
import sys

# Run from a checkout: use this repository's mmenergykd, not a stale copy.
sys.path.insert(0, _osp.dirname(_osp.dirname(_osp.abspath(__file__))))
import os
import os.path as osp
from copy import deepcopy

import mmengine
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.evaluator import DumpResults
from mmengine.runner import Runner

import mmenergykd  # noqa: F401  (registers components and loaders)
from mmenergykd.engine import setup_cpu_distributed, shutdown_distributed
from mmenergykd.utils import config_type_name

TRAINING_ONLY_HOOKS = ('EnergyCalibrationHook', 'HighEnergyAugmentHook')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test the student of a distillation checkpoint '
        "(MMPretrain's tools/test.py flags)")
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the results')
    parser.add_argument('--out', help='the file to write the results to')
    parser.add_argument(
        '--out-item',
        choices=['metrics', 'pred'],
        help='write the metrics or the predictions to --out (default: '
        'predictions)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value')
    parser.add_argument(
        '--amp', action='store_true', help='mixed precision inference')
    parser.add_argument(
        '--show-dir', help='directory to save visualised predictions in')
    parser.add_argument(
        '--show', action='store_true', help='show the predictions')
    parser.add_argument(
        '--interval', type=int, default=1, help='visualise every N samples')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='display time (s)')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable pin_memory in the test dataloader')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='test-time augmentation: the config\'s `tta_model` / '
        '`tta_pipeline`, or flip TTA averaging the class scores')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.out is None and args.out_item is not None:
        parser.error('--out-item needs --out')
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line to the config, as MMPretrain's test does."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.amp:
        cfg.test_cfg = dict(cfg.get('test_cfg') or {}, fp16=True)
    if args.show or args.show_dir is not None:
        hooks = cfg.get('default_hooks') or {}
        if 'visualization' not in hooks:
            raise ValueError(
                '--show / --show-dir need a VisualizationHook: set '
                "`default_hooks.visualization=dict(type='VisualizationHook')`"
                ' in the config (MMPretrain\'s default_runtime.py has it).')
        hooks['visualization'].update(
            enable=True,
            show=args.show,
            wait_time=args.wait_time,
            out_dir=args.show_dir,
            interval=args.interval)
    if args.tta:
        if 'tta_model' not in cfg:
            cfg.tta_model = dict(type='mmpretrain.AverageClsScoreTTA')
        if 'tta_pipeline' not in cfg:
            test_pipeline = cfg.test_dataloader.dataset.pipeline
            cfg.tta_pipeline = deepcopy(test_pipeline)
            cfg.tta_pipeline[-1] = dict(
                type='TestTimeAug',
                transforms=[[
                    dict(type='RandomFlip', prob=1.),
                    dict(type='RandomFlip', prob=0.)
                ], [test_pipeline[-1]]])
        cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    if cfg.get('test_dataloader') is not None:
        loader = ConfigDict(
            pin_memory=True, collate_fn=dict(type='default_collate'))
        loader.update(cfg.test_dataloader)
        if args.no_pin_memory:
            loader.pin_memory = False
        cfg.test_dataloader = loader
    # The training-only hooks (calibration, HE-DA) are not needed to test;
    # the config's other hooks (e.g. EMAHook, visualisation) stay, as in
    # MMPretrain's tools/test.py.
    dropped = TRAINING_ONLY_HOOKS
    if args.tta:
        # EMAHook would average the TTA wrapper, whose keys do not match the
        # checkpoint's: it would test the initial weights. The checkpoint's
        # `state_dict` already holds the averaged weights (EMAHook swaps
        # them in when saving), so it is not needed.
        dropped = dropped + ('EMAHook', )
    cfg.custom_hooks = [
        hook for hook in cfg.get('custom_hooks', None) or []
        if config_type_name(hook) not in dropped
    ]
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    # torchrun on a machine without CUDA: gloo, no torch.cuda.set_device.
    setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    if args.out and args.out_item in ('pred', None):
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    metrics = runner.test()
    if args.out and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)
    shutdown_distributed()


if __name__ == '__main__':
    main()
