# Copyright (c) mmenergykd contributors. All rights reserved.
from typing import Optional

from mmengine.hooks import Hook

from mmenergykd.engine.calibration import (all_calibrated, calibrate_energy,
                                           unwrap_distiller)
from mmenergykd.registry import HOOKS

__all__ = ['EnergyCalibrationHook', 'ensure_calibrated']

CKPT_KEY = 'energy_calibration'


def ensure_calibrated(runner, state: dict) -> None:
    """Calibrate unless every energy consumer already has thresholds.

    ``state`` receives the calibration summary (to be stored in the
    checkpoint); a resumed run keeps the thresholds it loaded.
    """
    model = unwrap_distiller(runner.model)
    # A checkpoint trained with another teacher: stop before calibrating.
    if hasattr(model, 'check_checkpoint_compatibility'):
        model.check_checkpoint_compatibility()
    if all_calibrated(model):
        thresholds = {
            name: _thresholds(consumer)
            for name, consumer in model.energy_consumers().items()
        }
        runner.logger.info(
            f'Energy thresholds already set (resumed or loaded), no '
            f'calibration pass: {thresholds}')
        state.setdefault('thresholds', thresholds)
        return
    runner.logger.info('Energy calibration: one teacher pass over the '
                       'training set...')
    summary = calibrate_energy(runner)
    state.clear()
    state.update(summary)
    runner.logger.info(
        f"Energy calibration over {summary['num_samples']} samples: "
        f"thresholds [low, high] per consumer {summary['thresholds']}")
    for name, (low, high) in summary['thresholds'].items():
        runner.message_hub.update_info(f'energy/{name}/low_threshold', low)
        runner.message_hub.update_info(f'energy/{name}/high_threshold', high)


def _thresholds(consumer) -> list:
    low = getattr(consumer, 'low_threshold', None)
    return [float(low) if low is not None else float('-inf'),
            float(consumer.high_threshold)]


@HOOKS.register_module()
class EnergyCalibrationHook(Hook):
    """Calibrate the energy thresholds once, before training.

    Before the first training iteration, the teacher runs once over the
    training dataloader; the thresholds of every energy consumer of the
    ``EnergyKDDistiller`` (energy losses, HE-DA) are computed with the
    sorted-index rule from the whole training set (gathered over ranks under
    DDP), handed to the consumers, logged, and stored in checkpoints under
    ``'energy_calibration'``. A resumed run reuses them (they are also model
    buffers) and does not recalibrate.

    Example:
        >>> custom_hooks = [dict(type='EnergyCalibrationHook')]
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self) -> None:
        self.state: dict = {}

    def before_train(self, runner) -> None:
        ensure_calibrated(runner, self.state)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.state:
            checkpoint[CKPT_KEY] = dict(self.state)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved: Optional[dict] = checkpoint.get(CKPT_KEY)
        if not saved:
            return
        self.state = dict(saved)
        consumers = unwrap_distiller(runner.model).energy_consumers()
        for name, (low, high) in saved.get('thresholds', {}).items():
            if name in consumers:
                consumers[name].set_thresholds(low, high)
