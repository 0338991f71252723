# Copyright (c) OpenMMLab and mmenergykd contributors. All rights reserved.
"""Train a model: MMPretrain 1.2.0's ``tools/train.py`` plus what it lacks.

Same flags, same dataloader defaults (``pin_memory``, ``persistent_workers``,
``collate_fn=default_collate``), same ``runner_type`` handling. The
additions, each marked ``# mmenergykd:`` below and listed in
docs/en/user_guides/train_test.md:

- ``--launcher pytorch`` on a machine without CUDA starts a gloo process
  group (MMEngine's launcher calls ``torch.cuda.set_device``);
- the process group is destroyed after training (a gloo group left to the
  interpreter's exit can abort a rank);
- ``--resume`` without a path continues from the newest *complete*
  checkpoint (MMEngine trusts ``work_dir/last_checkpoint``, which a run
  with a plain ``CheckpointHook`` killed while saving leaves naming a
  truncated or deleted file);
- clear errors for a missing ``--resume PATH`` / ``load_from`` file and for
  epoch-counted settings under an iteration-based loop;
- a warning when the config does not declare exact resume
  (``ResumableEpochBasedTrainLoop``) or crash-safe checkpoints
  (``AtomicCheckpointHook``); nothing is injected.
"""
import argparse
import os
import os.path as osp
from copy import deepcopy

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.utils import digit_version
from mmengine.utils.dl_utils import TORCH_VERSION

from mmenergykd.engine import (check_epoch_settings, check_reliability,
                               find_resumable_checkpoint,
                               setup_cpu_distributed, shutdown_distributed)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest (complete) checkpoint '
        'in the work directory.')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='whether not to evaluate the checkpoint during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='whether to auto scale the learning rate according to the '
        'actual batch size and the original batch size.')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='whether to disable the pin_memory option in dataloaders.')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='whether to disable the persistent_workers option in dataloaders.'
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # When using PyTorch version >= 2.0.0, the `torch.distributed.launch`
    # will pass the `--local-rank` parameter to `tools/train.py` instead
    # of `--local_rank`.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)

    return args


def merge_args(cfg, args):
    """Merge CLI arguments to config (as MMPretrain's tools/train.py)."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    cfg.launcher = args.launcher

    # work_dir is determined in this priority: CLI > segment in file > filename
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    # enable automatic-mixed-precision training
    if args.amp is True:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    # resume training
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    # enable auto scale learning rate
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True

    # set dataloader args
    default_dataloader_cfg = ConfigDict(
        pin_memory=True,
        persistent_workers=True,
        collate_fn=dict(type='default_collate'),
    )
    if digit_version(TORCH_VERSION) < digit_version('1.8.0'):
        default_dataloader_cfg.persistent_workers = False

    def set_default_dataloader_cfg(cfg, field):
        if cfg.get(field, None) is None:
            return
        dataloader_cfg = deepcopy(default_dataloader_cfg)
        dataloader_cfg.update(cfg[field])
        cfg[field] = dataloader_cfg
        if args.no_pin_memory:
            cfg[field]['pin_memory'] = False
        if args.no_persistent_workers:
            cfg[field]['persistent_workers'] = False

    set_default_dataloader_cfg(cfg, 'train_dataloader')
    set_default_dataloader_cfg(cfg, 'val_dataloader')
    set_default_dataloader_cfg(cfg, 'test_dataloader')

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    return cfg


def check_args(cfg, args):
    """mmenergykd: the checks and the resume choice MMPretrain lacks."""
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
    elif args.resume is not None and '://' not in args.resume \
            and not osp.isfile(args.resume):
        raise FileNotFoundError(
            f'--resume {args.resume}: no such checkpoint file. Pass an '
            'existing checkpoint, or `--resume` alone to continue from '
            'the newest checkpoint in the work dir.')
    load_from = cfg.get('load_from')
    if isinstance(load_from, str) and '://' not in load_from \
            and not osp.isfile(osp.expanduser(load_from)):
        raise FileNotFoundError(
            f'`load_from` {load_from!r}: no such checkpoint file. Pass an '
            'existing distiller training checkpoint (to start from a plain '
            "classifier's weights use `model.student.init_cfg=dict(type="
            "'Pretrained', checkpoint=...)`).")
    check_epoch_settings(cfg)
    check_reliability(cfg)


def main():
    args = parse_args()

    # load config
    cfg = Config.fromfile(args.config)

    # merge cli arguments to config
    cfg = merge_args(cfg, args)
    check_args(cfg, args)  # mmenergykd

    # mmenergykd: torchrun without CUDA: gloo, no torch.cuda.set_device.
    setup_cpu_distributed(cfg)

    # build the runner from config
    if 'runner_type' not in cfg:
        # build the default runner
        runner = Runner.from_cfg(cfg)
    else:
        # build customized runner from the registry
        # if 'runner_type' is set in the cfg
        runner = RUNNERS.build(cfg)

    # start training
    runner.train()

    shutdown_distributed()  # mmenergykd


if __name__ == '__main__':
    main()
