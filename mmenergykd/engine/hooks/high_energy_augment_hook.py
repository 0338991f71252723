# Copyright (c) mmenergykd contributors. All rights reserved.
from numbers import Integral
from typing import Iterable, Optional, Sequence, Set

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop

from mmenergykd.engine.calibration_policy import (ensure_calibrated,
                                                  unwrap_distiller)
from mmenergykd.models.augments import HighEnergyAugment
from mmenergykd.registry import HOOKS

__all__ = ['HighEnergyAugmentHook']

CKPT_KEY = 'high_energy_augment'
_WHERE = 'custom_hooks, HighEnergyAugmentHook'


def _is_int(value) -> bool:
    """An int, NumPy's included; not a bool."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def _check_epochs(epochs) -> Optional[Set[int]]:
    """``epochs`` as a set of 0-based epochs (None: every epoch)."""
    if epochs is None:
        return None
    if isinstance(epochs, (str, bytes)) or not isinstance(epochs, Iterable):
        raise ValueError(
            f'{_WHERE}: `epochs` must be a list / range of 0-based epochs, '
            f'or None for all, got {epochs!r}; e.g. `epochs=range(0, 100)` '
            'or `epochs=[0, 1, 2]`.')
    epochs = list(epochs)
    if not epochs or any(not _is_int(e) or e < 0 for e in epochs):
        raise ValueError(
            f'{_WHERE}: `epochs` must hold 0-based epoch numbers (ints >= '
            f'0), got {epochs!r}. Use None for every epoch.')
    return {int(e) for e in epochs}


@HOOKS.register_module()
class HighEnergyAugmentHook(Hook):
    """Turn on HE-DA (high-energy data augmentation) for a run.

    Builds a :class:`HighEnergyAugment` from ``**settings`` and attaches it
    to the ``EnergyKDDistiller`` (``model.high_energy_augment``), which runs
    its step every iteration: the samples above the HE-DA energy threshold
    are mixed among themselves, student and teacher run on them, and
    ``loss_heda`` (a KD term, no label loss) is added. The threshold comes
    from the run's single energy calibration pass (shared with
    ``EnergyCalibrationHook``; run here only when that hook is absent).
    Logs ``heda_num`` / ``heda_share`` per step and a per-epoch summary.

    Args:
        epochs (Sequence[int], optional): 0-based epochs in which HE-DA is
            active (e.g. ``range(0, 100)``); None means all.
        seed (int, optional): Seed of HE-DA's generator; defaults to the
            runner's seed. The generator is re-seeded before every training
            iteration from ``(seed, rank, iteration)``, so a resumed run
            (any resume point, any number of processes) draws exactly what
            the uninterrupted run draws.
        **settings: The settings of :class:`HighEnergyAugment`, checked
            when the hook is built: ``high_ratio`` (0.5), ``augment``
            (``'cutmix'`` or ``'mixup'``), ``alpha``, ``kd_term`` (``'kd'``,
            vanilla KD at ``temperature`` as in the release, or
            ``'energy'``, the run's energy-loss temperatures),
            ``temperature`` (4), ``loss_weight`` (0.9),
            ``energy_temperature`` (4) and ``selection`` (``'energy'``, or
            ``'random'``: an ablation control mixing as many samples per
            step, drawn uniformly from the batch).

    Example:
        >>> custom_hooks = [dict(type='HighEnergyAugmentHook',
        ...                      high_ratio=0.5, augment='cutmix')]
    """

    priority = 'NORMAL'

    def __init__(self,
                 epochs: Optional[Sequence[int]] = None,
                 seed: Optional[int] = None,
                 **settings) -> None:
        try:  # validate now, before any model is built
            HighEnergyAugment(**settings)
        except (TypeError, ValueError) as err:
            raise type(err)(
                f'{_WHERE}: {err} Fix it in the HighEnergyAugmentHook entry '
                'of `custom_hooks`.') from err
        self.settings = settings
        self.epochs = _check_epochs(epochs)
        if seed is not None and not _is_int(seed):
            raise ValueError(
                f'{_WHERE}: `seed` must be an int or None (the runner\'s '
                f'seed), got {seed!r}.')
        self.seed = None if seed is None else int(seed)
        self.module: Optional[HighEnergyAugment] = None

    def _seed(self, runner) -> int:
        return int(self.seed if self.seed is not None else (runner.seed or 0))

    def before_run(self, runner) -> None:
        model = unwrap_distiller(runner.model)
        if model.high_energy_augment is not None and \
                model.high_energy_augment is not self.module:
            raise ValueError(
                'HighEnergyAugmentHook appears more than once in '
                '`custom_hooks` (each would replace the other\'s settings). '
                'Keep one entry.')
        module = HighEnergyAugment(
            **self.settings, seed=self._seed(runner) + get_rank())
        module.check_energy_loss(model.energy_loss())
        device = next(model.parameters()).device
        model.high_energy_augment = module.to(device)
        self.module = module

    def before_train(self, runner) -> None:
        if self.epochs is not None:
            if isinstance(runner.train_loop, IterBasedTrainLoop):
                raise ValueError(
                    'HighEnergyAugmentHook `epochs` counts epochs, but the '
                    'train loop is iteration-based (IterBasedTrainLoop), '
                    'where the epoch stays 0. Train by epoch or leave '
                    '`epochs=None` (HE-DA in every step).')
            if not any(e < runner.max_epochs for e in self.epochs):
                raise ValueError(
                    f'HighEnergyAugmentHook `epochs` {sorted(self.epochs)} '
                    f'holds no epoch of this run (0 .. '
                    f'{runner.max_epochs - 1}, 0-based), so HE-DA would '
                    'never be active. Fix `epochs` in its `custom_hooks` '
                    'entry.')
        ensure_calibrated(runner)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        self.module.reseed(self._seed(runner), get_rank(), runner.iter)

    def before_train_epoch(self, runner) -> None:
        self.module.active = self.epochs is None or runner.epoch in self.epochs

    def after_train_epoch(self, runner) -> None:
        seen = max(self.module.num_seen, 1)
        share = self.module.num_augmented / seen
        runner.logger.info(
            f'HE-DA epoch {runner.epoch}: augmented '
            f'{self.module.num_augmented} of {self.module.num_seen} samples '
            f'({100 * share:.1f} %)')
        runner.message_hub.update_scalar('train/heda_epoch_share', share)
        # Reset here, not before the epoch: a run resumed in the middle of
        # an epoch keeps the counts loaded from its checkpoint.
        self.module.num_augmented = 0
        self.module.num_seen = 0

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # Runs on the main process only (Runner.save_checkpoint is
        # master-only), so no collective communication here. The generator
        # needs no saving: it is re-seeded from the iteration.
        checkpoint[CKPT_KEY] = dict(
            num_augmented=self.module.num_augmented,
            num_seen=self.module.num_seen)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get(CKPT_KEY)
        if saved and self.module is not None:
            # Counters of the epoch's summary line (main process values).
            self.module.num_augmented = int(saved['num_augmented'])
            self.module.num_seen = int(saved['num_seen'])
