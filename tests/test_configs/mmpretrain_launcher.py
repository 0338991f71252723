"""MMPretrain's own tools/train.py on a config of ours, with tiny data.

MMPretrain 1.2.0 installs its ``tools/train.py`` under
``mmpretrain/.mim/tools``; ``train_like_mmpretrain`` loads that very file and
goes through its own ``parse_args`` -> ``Config.fromfile`` -> ``merge_args``
-> runner path (as its ``main()`` does), so its dataloader defaults
(``persistent_workers=True``, ``pin_memory``, ``default_collate``) apply and
nothing of ours is injected. Only the data are swapped for tiny local files
(through ``--cfg-options``, as a user would) and the teacher is random.
"""
import copy
import importlib.util
import os.path as osp
import sys

import mmpretrain
from mmengine.runner import Runner

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def mmpretrain_train_script():
    """MMPretrain's own tools/train.py, imported as a module."""
    path = osp.join(
        osp.dirname(mmpretrain.__file__), '.mim', 'tools', 'train.py')
    spec = importlib.util.spec_from_file_location('mmpretrain_train', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def family(path):
    """The dataset of a config, from its name (configs are by method)."""
    name = osp.splitext(osp.basename(path))[0]
    if name.endswith(('_cifar100', '_cifar100-lt')):
        return 'cifar'
    if name.endswith('_digits'):
        return 'digits'
    assert name.endswith('in1k'), path
    return 'imagenet'


def tiny_options(path, data):
    """The --cfg-options a user would pass for a 2-iteration run.

    The digits configs run as shipped (their loaders have no workers); the
    others get ``num_workers=0`` here, hence ``persistent_workers=False``.
    """
    options = [
        'train_cfg.max_epochs=1',
        'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=1',
        # one small checkpoint per run is enough to see the hook write it
        'default_hooks.checkpoint.save_best=None',
        'default_hooks.checkpoint.save_optimizer=False',
        'log_level=WARNING'
    ]
    for loader in LOADERS:
        size = 4 if loader == 'train_dataloader' else 2
        kind = family(path)
        if kind != 'digits':
            options += [
                f'{loader}.num_workers=0', f'{loader}.persistent_workers=False'
            ]
        options += [
            f'{loader}.batch_size=2',
            f'{loader}.dataset.indices={size}',
            # MMEngine's serialisation runs gc.collect(), slow in a long
            # test process; the data are the same without it
            f'{loader}.dataset.serialize_data=False'
        ]
        if kind == 'cifar':
            # tiny files fail MMPretrain's md5 check: the LT class reads the
            # same layout without it (imbalance 1 = every image kept)
            options += [
                f'{loader}.dataset.data_root={data["cifar"]}',
                f'{loader}.dataset.type=CIFAR100LT',
                f'{loader}.dataset.check_md5=False',
                f'{loader}.dataset.imb_factor=1'
            ]
        elif kind == 'imagenet':
            options.append(f'{loader}.dataset.data_root={data["imagenet"]}')
    return options


def shrink_imagenet(cfg):
    """224-pixel crops -> 32 (ResNet-34 on 224 px is slow on a CPU)."""

    def visit(node):
        if isinstance(node, dict):
            for key in ('scale', 'crop_size'):
                if isinstance(node.get(key), int) and node[key] > 32:
                    node[key] = 32
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    for loader in LOADERS:
        visit(cfg[loader].dataset.pipeline)


def train_like_mmpretrain(path, work_dir, data, extra=()):
    """MMPretrain's tools/train.py ``main()`` on ``path``, tiny data.

    Returns:
        tuple: The config as MMPretrain merged it before ``--cfg-options``
        (its dataloader defaults applied), the final config, the runner.
    """
    script = mmpretrain_train_script()
    argv = sys.argv
    sys.argv = ['train.py', path, '--work-dir', work_dir, '--cfg-options'
                ] + tiny_options(path, data) + list(extra)
    try:
        args = script.parse_args()
    finally:
        sys.argv = argv
    cfg = script.Config.fromfile(args.config)
    # merge_args ends with cfg.merge_from_dict(args.cfg_options): keep the
    # config as shipped + MMPretrain's defaults to check it, then go on
    options, args.cfg_options = args.cfg_options, None
    as_shipped = script.merge_args(cfg, args)
    cfg = copy.deepcopy(as_shipped)
    cfg.merge_from_dict(options)
    if cfg.model.type == 'EnergyKDDistiller':
        cfg.model.teacher_ckpt = None
        cfg.model.teacher_settings = dict(
            cfg.model.get('teacher_settings') or {}, allow_random=True)
    if family(path) == 'imagenet':
        shrink_imagenet(cfg)
    cfg.experiment_name = osp.basename(work_dir)
    runner = (
        Runner.from_cfg(cfg)
        if 'runner_type' not in cfg else script.RUNNERS.build(cfg))
    runner.train()
    return as_shipped, cfg, runner
