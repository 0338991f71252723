# Copyright (c) mmenergykd contributors. All rights reserved.
from typing import Optional

from mmengine.hooks import Hook

from mmenergykd.engine.calibration import (all_calibrated, calibrate_energy,
                                           unwrap_distiller)
from mmenergykd.models.losses.energy import calibration_settings_change
from mmenergykd.registry import HOOKS

__all__ = ['EnergyCalibrationHook', 'ensure_calibrated']

CKPT_KEY = 'energy_calibration'


def _settings_changes(model) -> dict:
    """Consumers whose loaded thresholds were computed for other settings."""
    changes = {}
    for name, consumer in model.energy_consumers().items():
        if consumer.is_calibrated:
            change = calibration_settings_change(consumer)
            if change:
                changes[name] = change
    return changes


def _where(name: str) -> str:
    if name == 'high_energy_augment':
        return 'the HighEnergyAugmentHook entry of `custom_hooks`'
    return f'`model.distill_losses.{name}`'


def ensure_calibrated(runner,
                      state: dict,
                      recalibrate_on_change: bool = False) -> None:
    """Calibrate unless every energy consumer already has thresholds.

    ``state`` receives the calibration summary (to be stored in the
    checkpoint); a resumed run keeps the thresholds it loaded, unless they
    were computed for other energy settings (ratios, ``energy_temperature``):
    then it raises, or recalibrates when ``recalibrate_on_change``.
    """
    model = unwrap_distiller(runner.model)
    # A checkpoint trained with another teacher: stop before calibrating.
    if hasattr(model, 'check_checkpoint_compatibility'):
        model.check_checkpoint_compatibility()
    changes = _settings_changes(model)
    if changes and not recalibrate_on_change:
        listed = '; '.join(f'{_where(name)}: {change}'
                           for name, change in changes.items())
        raise ValueError(
            'The energy thresholds loaded from the checkpoint (`resume` / '
            '`load_from`) were calibrated for other energy settings than '
            f'this config has ({listed}; checkpoint value -> config value). '
            'Either restore the checkpoint\'s values in the config, or '
            "calibrate again for the new ones with `dict(type="
            "'EnergyCalibrationHook', recalibrate_on_change=True)` in "
            '`custom_hooks`, or start a new run without `--resume` / '
            '`load_from`. Nothing was trained.')
    if changes:
        runner.logger.warning(
            f'Energy settings changed since the checkpoint ({changes}): '
            'recalibrating (recalibrate_on_change=True).')
    elif all_calibrated(model):
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
    return [
        float(low) if low is not None else float('-inf'),
        float(consumer.high_threshold)
    ]


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

    The thresholds remember the settings they were computed for
    (``low_ratio``, ``high_ratio``, ``energy_temperature`` of each
    consumer). Resuming or loading them into a config whose settings differ
    raises a ValueError before anything is trained, unless
    ``recalibrate_on_change=True``, which calibrates again for the new
    settings.

    Args:
        recalibrate_on_change (bool): Recalibrate, instead of raising, when
            loaded thresholds were computed for other energy settings.
            Defaults to False.

    Example:
        >>> custom_hooks = [dict(type='EnergyCalibrationHook')]
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, recalibrate_on_change: bool = False) -> None:
        self.state: dict = {}
        self.recalibrate_on_change = bool(recalibrate_on_change)

    def before_train(self, runner) -> None:
        ensure_calibrated(runner, self.state, self.recalibrate_on_change)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.state:
            checkpoint[CKPT_KEY] = dict(self.state)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved: Optional[dict] = checkpoint.get(CKPT_KEY)
        if not saved:
            return
        self.state = dict(saved)
        consumers = unwrap_distiller(runner.model).energy_consumers()
        # The thresholds are model buffers too: MMEngine loads the state
        # dict right after this hook, with the settings each threshold was
        # computed for (a checkpoint without them keeps these values).
        for name, (low, high) in saved.get('thresholds', {}).items():
            if name in consumers and not consumers[name].is_calibrated:
                consumers[name].set_thresholds(low, high)
