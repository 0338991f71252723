# Copyright (c) mmenergykd contributors. All rights reserved.
from typing import Optional, Sequence

from mmengine.dist import all_gather_object, get_rank
from mmengine.hooks import Hook

from mmenergykd.engine.calibration import unwrap_distiller
from mmenergykd.models.augments import HighEnergyAugment
from mmenergykd.registry import HOOKS
from .energy_calibration_hook import ensure_calibrated

__all__ = ['HighEnergyAugmentHook']

CKPT_KEY = 'high_energy_augment'


@HOOKS.register_module()
class HighEnergyAugmentHook(Hook):
    """Turn on HE-DA (high-energy data augmentation) for a run.

    Attaches a :class:`HighEnergyAugment` to the ``EnergyKDDistiller``:
    every step, the samples above the HE-DA energy threshold are mixed among
    themselves, student and teacher run on them, and ``loss_heda`` (a KD
    term, no label loss) is added. The threshold comes from the run's single
    energy calibration pass (shared with ``EnergyCalibrationHook``; run here
    only when that hook is absent). Logs ``heda_num`` / ``heda_share`` per
    step and a per-epoch summary; its random state is saved in checkpoints.

    Args:
        high_ratio (float): Share of the data counted as high energy.
            Defaults to 0.5.
        augment (str): ``'cutmix'`` (default) or ``'mixup'``.
        alpha (float, optional): Beta parameter; 1.0 for CutMix and 0.2 for
            MixUp when None.
        kd_term (str): ``'kd'`` (vanilla KD at ``temperature``, as in the
            release) or ``'energy'`` (the run's energy-loss temperatures).
        temperature (float): Temperature of the ``'kd'`` term. Defaults to 4.
        loss_weight (float): Weight of the term. Defaults to 0.9.
        energy_temperature (float): ``T_E``. Defaults to 4.0.
        epochs (Sequence[int], optional): 0-based epochs in which HE-DA is
            active (e.g. ``range(0, 100)``); None means all.
        seed (int, optional): Seed of HE-DA's generator; defaults to the
            runner's seed. Each rank adds its rank.

    Example:
        >>> custom_hooks = [dict(type='HighEnergyAugmentHook',
        ...                      high_ratio=0.5, augment='cutmix')]
    """

    priority = 'NORMAL'

    def __init__(self,
                 high_ratio: float = 0.5,
                 augment: str = 'cutmix',
                 alpha: Optional[float] = None,
                 kd_term: str = 'kd',
                 temperature: float = 4.0,
                 loss_weight: float = 0.9,
                 energy_temperature: float = 4.0,
                 epochs: Optional[Sequence[int]] = None,
                 seed: Optional[int] = None) -> None:
        self.settings = dict(
            high_ratio=high_ratio, augment=augment, alpha=alpha,
            kd_term=kd_term, temperature=temperature,
            loss_weight=loss_weight, energy_temperature=energy_temperature)
        # Validate now, before any model is built.
        HighEnergyAugment(**self.settings)
        self.epochs = None if epochs is None else {int(e) for e in epochs}
        self.seed = seed
        self.calibration_state: dict = {}
        self.module: Optional[HighEnergyAugment] = None

    def before_run(self, runner) -> None:
        model = unwrap_distiller(runner.model)
        seed = self.seed if self.seed is not None else (runner.seed or 0)
        module = HighEnergyAugment(**self.settings, seed=seed + get_rank())
        device = next(model.parameters()).device
        model.high_energy_augment = module.to(device)
        self.module = module

    def before_train(self, runner) -> None:
        ensure_calibrated(runner, self.calibration_state)

    def before_train_epoch(self, runner) -> None:
        self.module.active = self.epochs is None or runner.epoch in self.epochs
        self.module.num_augmented = 0
        self.module.num_seen = 0

    def after_train_epoch(self, runner) -> None:
        seen = max(self.module.num_seen, 1)
        share = self.module.num_augmented / seen
        runner.logger.info(
            f'HE-DA epoch {runner.epoch}: augmented '
            f'{self.module.num_augmented} of {self.module.num_seen} samples '
            f'({100 * share:.1f} %)')
        runner.message_hub.update_scalar('train/heda_epoch_share', share)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # Every rank calls this hook; each keeps its own generator state.
        checkpoint[CKPT_KEY] = dict(
            rng_states=all_gather_object(self.module.rng_state()),
            num_augmented=self.module.num_augmented,
            num_seen=self.module.num_seen)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get(CKPT_KEY)
        if saved and self.module is not None:
            states = saved['rng_states']
            if len(states) != len(all_gather_object(0)):
                raise ValueError(
                    f'The checkpoint holds HE-DA states of {len(states)} '
                    'processes, but this run has a different number. Resume '
                    'with the same number of processes.')
            self.module.set_rng_state(states[get_rank()])
            self.module.num_augmented = int(saved['num_augmented'])
            self.module.num_seen = int(saved['num_seen'])
