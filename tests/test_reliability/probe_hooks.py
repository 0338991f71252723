# Copyright (c) mmenergykd contributors. All rights reserved.
"""Test-only hooks, imported by test configs through ``custom_imports``.

``tests.test_reliability.probe_hooks`` is importable in ``tools/train.py``
subprocesses because the tool puts the repository root on ``sys.path``.
"""
import hashlib
import json
import math
import os
import os.path as osp
import signal

import torch
from mmengine.dist import get_rank, get_world_size
from mmengine.fileio import LocalBackend
from mmengine.hooks import Hook

from mmenergykd.engine import unwrap_distiller
from mmenergykd.registry import HOOKS


def _kill_now() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def file_hashes(folder: str) -> dict:
    """sha256 of every checkpoint file and of last_checkpoint in a folder."""
    out = {}
    for name in sorted(os.listdir(folder)):
        path = osp.join(folder, name)
        if osp.isfile(path) and (name.endswith('.pth')
                                 or name == 'last_checkpoint'):
            with open(path, 'rb') as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


@HOOKS.register_module()
class TestSigkillHook(Hook):
    """SIGKILL the training process at a chosen moment.

    Args:
        at_iter (int): 1-based iteration number.
        mode (str): ``'after_iter'``: after that iteration (and after any
            checkpoint saved for it); ``'during_save'``: half-way through
            writing the checkpoint of that iteration.
    """

    priority = 'LOWEST'

    def __init__(self, at_iter: int, mode: str = 'after_iter') -> None:
        assert mode in ('after_iter', 'during_save')
        self.at_iter = at_iter
        self.mode = mode

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        if self.mode == 'after_iter' and runner.iter + 1 == self.at_iter:
            _kill_now()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.mode != 'during_save' or \
                checkpoint['meta'].get('iter') != self.at_iter:
            return

        def half_then_die(backend, obj: bytes, filepath) -> None:
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
                os.fsync(f.fileno())
            _kill_now()

        LocalBackend.put = half_then_die


@HOOKS.register_module()
class TestDumpStateHook(Hook):
    """Write ``dump_rank{r}.json`` (thresholds, val metrics, losses)."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.metrics = []

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.metrics.append(dict(metrics or {}))

    def after_train(self, runner) -> None:
        model = unwrap_distiller(runner.model)
        thresholds = {}
        for name, consumer in model.energy_consumers().items():
            low = getattr(consumer, 'low_threshold', None)
            thresholds[name] = [
                None if low is None else float(low),
                float(consumer.high_threshold)
            ]
        hub = runner.message_hub
        losses = {}
        for key in ('train/loss', 'train/loss_heda', 'train/heda_num',
                    'train/loss_energykd'):
            if key in hub.log_scalars:
                losses[key] = hub.get_scalar(key).data[0].tolist()
        grads_finite = all(
            p.grad is None or bool(torch.isfinite(p.grad).all())
            for p in model.student.parameters())
        dump = dict(
            rank=get_rank(),
            world_size=get_world_size(),
            thresholds=thresholds,
            val_metrics=self.metrics,
            losses=losses,
            grads_finite=grads_finite,
            params_finite=all(
                bool(torch.isfinite(p).all())
                for p in model.student.parameters()))
        with open(
                osp.join(runner.work_dir, f'dump_rank{get_rank()}.json'),
                'w') as f:
            json.dump(dump, f, allow_nan=True)


@HOOKS.register_module()
class TestCorruptTeacherHook(Hook):
    """Make the teacher's logits NaN from a given (0-based) iteration on.

    Before corrupting it, records the hashes of the checkpoints already in
    the work dir to ``before_corruption.json``.
    """

    priority = 'LOWEST'

    def __init__(self, at_iter: int) -> None:
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter != self.at_iter:
            return
        with open(osp.join(runner.work_dir, 'before_corruption.json'),
                  'w') as f:
            json.dump(file_hashes(runner.work_dir), f)
        bias = unwrap_distiller(runner.model).teacher.head.fc.bias
        with torch.no_grad():
            bias.fill_(math.nan)


@HOOKS.register_module()
class TestStepMarkerHook(Hook):
    """Touch ``trained_a_step`` in the work dir after any training step."""

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        open(osp.join(runner.work_dir, 'trained_a_step'), 'w').close()


@HOOKS.register_module()
class TestWaitForFileHook(Hook):
    """Pause the run at a chosen moment until a file appears.

    At that moment the hook creates ``ready``, then waits (at most
    ``timeout`` seconds) until ``release`` exists: the test does something
    to the paused run (starts a second run, sends a signal) meanwhile.

    Args:
        ready (str): File created when the run pauses.
        release (str): File whose creation ends the pause.
        at (str): ``'before_train'`` (before calibration) or
            ``'after_iter'``.
        at_iter (int): 1-based iteration, for ``'after_iter'``.
        timeout (float): Seconds to wait at most.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 ready: str,
                 release: str,
                 at: str = 'after_iter',
                 at_iter: int = 1,
                 timeout: float = 300.0) -> None:
        assert at in ('before_train', 'after_iter')
        self.ready = ready
        self.release = release
        self.at = at
        self.at_iter = at_iter
        self.timeout = timeout

    def _pause(self) -> None:
        import time
        open(self.ready, 'w').close()
        deadline = time.time() + self.timeout
        while not osp.exists(self.release) and time.time() < deadline:
            time.sleep(0.05)

    def before_train(self, runner) -> None:
        if self.at == 'before_train':
            self._pause()

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        if self.at == 'after_iter' and runner.iter + 1 == self.at_iter:
            self._pause()
