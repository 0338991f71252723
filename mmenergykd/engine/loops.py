# Copyright (c) mmenergykd contributors. All rights reserved.
"""An epoch-based training loop whose runs resume exactly.

MMEngine's ``EpochBasedTrainLoop`` has two gaps for exact resumption:

1. Checkpoints do not hold the global random states (Python ``random``,
   NumPy, torch). Random transforms (``RandomResizedCrop`` draws from NumPy's
   global generator), dropout and batch augments of a resumed run therefore
   draw different numbers than the uninterrupted run. Storing the states is
   not enough either: the validation loop, which runs after the epoch's
   checkpoint was written, also draws from torch's generator.
2. Resumed from an iteration checkpoint in the middle of an epoch, it
   replays the whole epoch instead of skipping the batches already trained
   on (``IterBasedTrainLoop`` skips them).

This loop seeds the global generators before every batch is fetched, from
``(seed, rank, epoch, batch index)`` only, so the random numbers a batch
sees never depend on what ran before it (validation, calibration, an
interruption), and it skips the trained batches of a partial epoch.
"""
import logging
from typing import Dict, List, Optional, Tuple, Union

from mmengine.dist import get_rank, get_world_size
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop, EpochBasedTrainLoop
from torch.utils.data import DataLoader

from mmenergykd.models.distillers import EnergyKDDistiller
from mmenergykd.registry import LOOPS
from mmenergykd.utils.seeding import (only_cpu_generators,
                                      seed_everything_for_step)
from .data_checks import check_loop_data
from .runner import GuardedRunner
from .stop_signals import log_stop_signals
from .work_dir_lock import hold_work_dir, release_work_dir_lock

__all__ = ['ResumableEpochBasedTrainLoop']

_WORLD_SIZE_KEY = 'mmenergykd/world_size'


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` with per-batch seeding and mid-epoch resume.

    Identical to MMEngine's loop except that:

    - before the dataloader fetches batch ``i`` of epoch ``e`` (and before
      the epoch's dataloader iterator is created), Python's, NumPy's and
      torch's global generators are seeded from ``(seed, rank, e, i)``.
      Transforms run in the main process (``num_workers=0``), dropout, batch
      augments and everything else of that step draw the same numbers in an
      uninterrupted and in a resumed run. Dataloader workers are seeded by
      MMEngine's ``worker_init_fn`` each epoch (with ``persistent_workers``
      off), so their streams depend on the epoch's batches only;
    - resumed from a checkpoint written after iteration ``k`` of an epoch,
      the first ``k`` batches of that epoch are skipped: their indices are
      drawn from the sampler without loading them (``num_workers=0``) or
      they are loaded and dropped (workers, whose random streams advance
      with every sample they load).

    Exact resumption also needs ``persistent_workers=False`` when
    ``num_workers > 0`` (persistent workers carry their random state across
    epochs, which no checkpoint can hold); the loop warns otherwise.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The training dataloader.
        max_epochs (int): Total training epochs.
        val_begin (int): The epoch that begins validating. Defaults to 1.
        val_interval (int): Validation interval. Defaults to 1.
        dynamic_intervals (list, optional): See ``EpochBasedTrainLoop``.
        by_epoch (bool): Accepted (and must be True) so that a config's
            ``train_cfg = dict(by_epoch=True, ...)`` keeps working.
        seed_per_batch (bool): Seed the global generators before every batch.
            Defaults to True.

    Example:
        >>> train_cfg = dict(type='ResumableEpochBasedTrainLoop',
        ...                  max_epochs=100, val_interval=1)
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 max_epochs: int,
                 val_begin: int = 1,
                 val_interval: int = 1,
                 dynamic_intervals: Optional[List[Tuple[int, int]]] = None,
                 by_epoch: bool = True,
                 seed_per_batch: bool = True) -> None:
        if not by_epoch:
            raise ValueError(
                'ResumableEpochBasedTrainLoop is epoch-based; use '
                "`train_cfg = dict(by_epoch=False, ...)` without a `type` "
                'for iteration-based training.')
        super().__init__(runner, dataloader, max_epochs, val_begin,
                         val_interval, dynamic_intervals)
        self.seed_per_batch = seed_per_batch
        # Without accelerators, seed torch's CPU generator directly: the
        # same states, without torch.manual_seed's lazy device seeding
        # (0.1-2 ms a call, about 1 ms per step on these CPU runs).
        self._cpu_only = only_cpu_generators()
        self._warned_workers = False

    def _seed(self, batch_idx: int) -> None:
        if self.seed_per_batch:
            seed = self.runner.seed if self.runner.seed is not None else 0
            seed_everything_for_step(
                seed,
                get_rank(),
                self._epoch,
                batch_idx,
                cpu_only=self._cpu_only)

    def _batches_done(self, num_batches: int) -> int:
        """Batches of the current epoch already trained (resumed runs).

        ``num_batches`` when the checkpoint was written after the epoch's
        last iteration but before its end-of-epoch hooks (an iteration
        checkpoint): the epoch's hooks and validation still run.
        """
        done = self._iter - self._epoch * num_batches
        if done <= 0:
            return 0
        if done > num_batches:
            print_log(
                f'Resumed at iteration {self._iter}, which is past epoch '
                f'{self._epoch} of {num_batches} batches; the dataloader '
                'length changed since the checkpoint was written. Training '
                'the whole epoch.',
                logger='current',
                level=logging.WARNING)
            return 0
        return done

    def _check_workers(self) -> None:
        loader = self.dataloader
        if self._warned_workers or not getattr(loader, 'num_workers', 0):
            return
        self._warned_workers = True
        if getattr(loader, 'persistent_workers', False):
            print_log(
                'train_dataloader uses persistent_workers=True: the random '
                'streams of its workers run on across epochs and cannot be '
                'restored, so a resumed run is reproducible but not '
                'identical to an uninterrupted one. Set '
                '`train_dataloader.persistent_workers=False` for exact '
                'resumption.',
                logger='current',
                level=logging.WARNING)

    def run(self):
        """Launch training (see :meth:`_run`), holding the work dir (unless
        the runner, a ``GuardedRunner``, holds it) and logging a stop by
        SIGTERM / SIGINT."""
        runner = self.runner
        guarded = isinstance(runner, GuardedRunner)
        if not guarded:  # what GuardedRunner does itself, earlier
            hold_work_dir(runner.work_dir)
        try:
            if not guarded:
                check_loop_data(self, 'train_dataloader')
                if isinstance(runner._val_loop, BaseLoop):
                    check_loop_data(runner._val_loop, 'val_dataloader')
            with log_stop_signals(runner, self):
                return self._run()
        finally:
            if not guarded:
                release_work_dir_lock(runner.work_dir)

    def _run(self):
        """Launch training (first refusing an incompatible checkpoint)."""
        model = self.runner.model
        if is_model_wrapper(model):
            model = model.module
        if isinstance(model, EnergyKDDistiller):
            model.check_checkpoint_compatibility()
        hub = self.runner.message_hub
        world = get_world_size()
        if self._iter > 0:  # resumed
            self._check_workers()
            saved = hub.get_info(_WORLD_SIZE_KEY)
            if saved is not None and saved != world:
                print_log(
                    f'The checkpoint was written by a run of {saved} '
                    f'processes, this one has {world}: each process now '
                    'sees other samples, so the resumed run is not '
                    'identical to an uninterrupted one (and in the middle '
                    'of an epoch the skipped batches are not the trained '
                    'ones). Resume with the same number of processes for '
                    'exact resumption.',
                    logger='current',
                    level=logging.WARNING)
        # Stored in the message hub, hence in every checkpoint.
        hub.update_info(_WORLD_SIZE_KEY, world)
        return super().run()

    def run_epoch(self) -> None:
        """Iterate one epoch (skipping batches trained before a resume)."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        num_batches = len(self.dataloader)
        skip = self._batches_done(num_batches)
        if skip:
            print_log(
                f'Resuming in the middle of epoch {self._epoch}: skipping '
                f'the {skip} batches already trained on.',
                logger='current',
                level=logging.WARNING)
        if skip == num_batches:
            # Every batch was trained: only the epoch's end is left.
            self.runner.call_hook('after_train_epoch')
            self._epoch += 1
            return
        self._seed(0)
        iterator = iter(self.dataloader)
        fast_skip = skip and getattr(self.dataloader, 'num_workers', 0) == 0 \
            and hasattr(iterator, '_next_index')
        idx = 0
        while True:
            self._seed(idx)
            if idx < skip and fast_skip:
                # Draw the batch's indices from the sampler, load nothing.
                try:
                    iterator._next_index()
                except StopIteration:
                    break
                iterator._num_yielded += 1
                idx += 1
                continue
            try:
                data_batch = next(iterator)
            except StopIteration:
                break
            if idx >= skip:
                self.run_iter(idx, data_batch)
            idx += 1

        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
