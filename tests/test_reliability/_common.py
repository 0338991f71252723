# Copyright (c) mmenergykd contributors. All rights reserved.
"""Shared helpers of the reliability tests."""
import os
import os.path as osp
import runpy
import subprocess
import sys
from typing import List, Optional

import mmpretrain
import torch
from mmengine.config import Config

from tests.helpers import REPO, tiny_runner_cfg

TRAIN_PY = osp.join(REPO, 'tools', 'train.py')
#: MMPretrain's own tools/train.py, as MMPretrain installs it.
MMPRETRAIN_TRAIN_PY = osp.join(
    osp.dirname(mmpretrain.__file__), '.mim', 'tools', 'train.py')
DIST_TRAIN_SH = osp.join(REPO, 'tools', 'dist_train.sh')
PROBES = 'tests.test_reliability.probe_hooks'

LOSSES = dict(loss_energykd=dict(type='EnergyKDLoss', loss_weight=1.0))
HOOKS = [
    dict(type='EnergyCalibrationHook'),
    dict(type='HighEnergyAugmentHook', high_ratio=0.5, kd_term='energy')
]


def reliability_cfg(work_dir: str,
                    data_root: str,
                    teacher_ckpt: Optional[str],
                    extra_hooks: Optional[list] = None,
                    num_workers: int = 0,
                    max_epochs: int = 2,
                    mixup: bool = True,
                    **kwargs) -> Config:
    """A tiny Energy KD + HE-DA run with every source of randomness.

    Random transforms (RandomResizedCrop, RandomFlip), shuffling, batch
    Mixup (NumPy + torch), HE-DA's CutMix; losses logged unsmoothed.
    """
    cfg = tiny_runner_cfg(
        work_dir,
        data_root,
        teacher_ckpt,
        distill_losses=LOSSES,
        custom_hooks=[dict(h) for h in HOOKS] + list(extra_hooks or []),
        max_epochs=max_epochs,
        shuffle=True,
        augment=True,
        seed=3,
        **kwargs)
    cfg.custom_imports = dict(
        imports=['mmenergykd', PROBES], allow_failed_imports=False)
    if mixup:
        cfg.data_preprocessor.batch_augments = dict(
            augments=[dict(type='Mixup', alpha=0.2)])
    # Declared, as mmenergykd's configs do (no launcher injects them).
    cfg.train_cfg = dict(
        type='ResumableEpochBasedTrainLoop',
        max_epochs=max_epochs,
        val_interval=1)
    cfg.default_hooks.checkpoint.type = 'AtomicCheckpointHook'
    cfg.train_dataloader.num_workers = num_workers
    cfg.train_dataloader.persistent_workers = False
    cfg.log_processor = dict(window_size=1)
    return cfg


def write_cfg(cfg: Config, path: str) -> str:
    cfg.dump(path)
    return path


def subprocess_env() -> dict:
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


def run_train(args: List[str],
              timeout: int = 300,
              script: str = TRAIN_PY) -> subprocess.CompletedProcess:
    """``python tools/train.py ARGS`` in a subprocess (or another
    ``script``, e.g. :data:`MMPRETRAIN_TRAIN_PY`)."""
    return subprocess.run(
        [sys.executable, script] + list(args),
        cwd=REPO,
        env=subprocess_env(),
        timeout=timeout,
        capture_output=True,
        text=True)


def train_main(args: List[str]) -> None:
    """``python tools/train.py ARGS``, run in this process as a program
    (``__main__``; its errors reach the test): the tests outside
    ``tests/test_tools/`` run tools, they never import them."""
    argv = sys.argv
    sys.argv = [TRAIN_PY] + list(args)
    try:
        runpy.run_path(TRAIN_PY, run_name='__main__')
    finally:
        sys.argv = argv


def load(path: str) -> dict:
    """A checkpoint written by the tests themselves (trusted)."""
    return torch.load(path, map_location='cpu', weights_only=False)


def scalar_history(ckpt: dict, key: str) -> list:
    buffer = ckpt['message_hub']['log_scalars'][key]
    return buffer.data[0].tolist()
