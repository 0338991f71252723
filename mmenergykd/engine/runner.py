# Copyright (c) mmenergykd contributors. All rights reserved.
"""MMEngine's Runner holding its work dir and checking its data first."""
from typing import Dict, Union

import torch.nn as nn
from mmengine.runner import BaseLoop, Runner

from mmenergykd.registry import RUNNERS
from .data_checks import check_loop_data, empty_dataset_named
from .runtime import find_resumable_checkpoint
from .work_dir_lock import hold_work_dir, release_work_dir_lock

__all__ = ['GuardedRunner']


@RUNNERS.register_module()
class GuardedRunner(Runner):
    """MMEngine's ``Runner`` with one run per work dir and data checked.

    Same arguments and behaviour as :class:`mmengine.runner.Runner`, plus:

    - **One run per work dir.** The work dir's lock
      (:mod:`mmenergykd.engine.work_dir_lock`, ``WORK_DIR/run.lock``) is
      taken in ``setup_env``, right after the process group starts and
      before the runner writes anything (its log, the dumped config), and
      held until ``train`` / ``val`` / ``test`` end. A second run in the
      same work dir is refused there with the other run's process id and
      host; a lock left by a dead run is ignored. Only rank 0 takes it.
    - **Data checked when a loop is built**, before any hook runs: an empty
      training, validation or test set (or a dataloader with no batch) is
      refused naming its setting, and a sample whose file is missing, empty
      or not an image names its path and index (``check_loop_data``).
    - **``resume=True`` without a checkpoint** continues from the newest
      *complete* checkpoint, also when ``last_checkpoint`` names a torn
      file or the work dir was moved (MMEngine trusts ``last_checkpoint``).

    mmenergykd's configs declare it (``runner_type`` in
    ``configs/_base_/default_runtime.py``), so MMPretrain's
    ``tools/train.py``, ``mim train`` and ours build it.

    Example:
        >>> runner_type = 'mmpretrain.GuardedRunner'
    """

    def setup_env(self, env_cfg: Dict) -> None:
        """MMEngine's set-up, then the work dir's lock (see the class)."""
        super().setup_env(env_cfg)
        hold_work_dir(self._work_dir)

    def build_train_loop(self, loop: Union[BaseLoop, Dict]) -> BaseLoop:
        """Build the train loop and check its data."""
        with empty_dataset_named('train_dataloader', self._train_dataloader):
            loop = super().build_train_loop(loop)
        check_loop_data(loop, 'train_dataloader')
        return loop

    def build_val_loop(self, loop: Union[BaseLoop, Dict]) -> BaseLoop:
        """Build the validation loop and check its data."""
        with empty_dataset_named('val_dataloader', self._val_dataloader):
            loop = super().build_val_loop(loop)
        check_loop_data(loop, 'val_dataloader')
        return loop

    def build_test_loop(self, loop: Union[BaseLoop, Dict]) -> BaseLoop:
        """Build the test loop and check its data."""
        with empty_dataset_named('test_dataloader', self._test_dataloader):
            loop = super().build_test_loop(loop)
        check_loop_data(loop, 'test_dataloader')
        return loop

    def load_or_resume(self) -> None:
        """MMEngine's, with the newest complete checkpoint for auto-resume."""
        if not self._has_loaded and self._resume and self._load_from is None:
            found = find_resumable_checkpoint(self.work_dir)
            if found is None:
                self.logger.info(f'Resume: no complete checkpoint in '
                                 f'{self.work_dir}; training from the start.')
                self._resume = False
            self._load_from = found
        super().load_or_resume()

    def train(self) -> nn.Module:
        """Train, holding the work dir until training ends."""
        hold_work_dir(self.work_dir)
        try:
            return super().train()
        finally:
            release_work_dir_lock(self.work_dir)

    def val(self) -> dict:
        """Validate, holding the work dir until validation ends."""
        hold_work_dir(self.work_dir)
        try:
            return super().val()
        finally:
            release_work_dir_lock(self.work_dir)

    def test(self) -> dict:
        """Test, holding the work dir until testing ends."""
        hold_work_dir(self.work_dir)
        try:
            return super().test()
        finally:
            release_work_dir_lock(self.work_dir)
