# Copyright (c) mmenergykd contributors. All rights reserved.
"""When to calibrate: once per run, not again on resume, refuse stale ones."""
from typing import Dict, Optional

import torch
from mmengine.model import is_model_wrapper

from mmenergykd.models.distillers import EnergyKDDistiller
from .calibration import calibrate_energy
from .calibration_report import log_calibration

__all__ = ['unwrap_distiller', 'all_calibrated', 'ensure_calibrated']


def unwrap_distiller(runner_model: torch.nn.Module) -> EnergyKDDistiller:
    """The ``EnergyKDDistiller`` inside a (possibly DDP-wrapped) model."""
    model = runner_model.module if is_model_wrapper(runner_model) \
        else runner_model
    if not isinstance(model, EnergyKDDistiller):
        raise TypeError('Energy calibration and HE-DA need '
                        "`model.type='EnergyKDDistiller'`, got "
                        f'{type(model).__name__}.')
    return model


def all_calibrated(model: EnergyKDDistiller) -> bool:
    """Whether every energy consumer of the distiller has thresholds."""
    return all(c.is_calibrated for c in model.energy_consumers().values())


def _settings_changes(model: EnergyKDDistiller) -> Dict[str, str]:
    """Consumers whose loaded thresholds were computed for other settings."""
    changes = {}
    for name, consumer in model.energy_consumers().items():
        if consumer.is_calibrated:
            change = consumer.calibration_settings_change()
            if change:
                changes[name] = change
    return changes


def _where(name: str) -> str:
    if name == 'high_energy_augment':
        return 'the HighEnergyAugmentHook entry of `custom_hooks`'
    return f'`model.distill_losses.{name}`'


def _refuse_changes(changes: Dict[str, str]) -> None:
    listed = '; '.join(f'{_where(name)}: {change}'
                       for name, change in changes.items())
    raise ValueError(
        'The energy thresholds loaded from the checkpoint (`resume` / '
        '`load_from`) were calibrated for other energy settings than this '
        f'config has ({listed}; checkpoint value -> config value). Either '
        "restore the checkpoint's values in the config, or calibrate again "
        "for the new ones with `dict(type='EnergyCalibrationHook', "
        'recalibrate_on_change=True)` in `custom_hooks`, or start a new run '
        'without `--resume` / `load_from`. Nothing was trained.')


def current_thresholds(model: EnergyKDDistiller) -> Dict[str, list]:
    """``[low, high]`` per consumer (reads them back from the device)."""
    return {
        name: [float(c.low_threshold),
               float(c.high_threshold)]
        for name, c in model.energy_consumers().items()
    }


def ensure_calibrated(runner,
                      recalibrate_on_change: bool = False) -> Optional[dict]:
    """Calibrate unless every energy consumer already has thresholds.

    A resumed run keeps the thresholds it loaded, unless they were computed
    for other energy settings (ratios, ``energy_temperature``): then it
    raises, or recalibrates when ``recalibrate_on_change``.

    Args:
        runner (Runner): The runner; its model, training dataloader, seed,
            optimizer wrapper (autocast), logger and message hub are used.
        recalibrate_on_change (bool): Recalibrate instead of raising.

    Returns:
        dict | None: The calibration summary (``num_samples``,
        ``thresholds``) when a pass ran, else None.
    """
    model = unwrap_distiller(runner.model)
    # A checkpoint trained with another teacher: stop before calibrating.
    model.check_checkpoint_compatibility()
    changes = _settings_changes(model)
    if changes and not recalibrate_on_change:
        _refuse_changes(changes)
    if changes:
        runner.logger.warning(
            f'Energy settings changed since the checkpoint ({changes}): '
            'recalibrating (recalibrate_on_change=True).')
    elif all_calibrated(model):
        runner.logger.info(
            'Energy thresholds already set (resumed or loaded), no '
            f'calibration pass: {current_thresholds(model)}')
        return None
    runner.logger.info('Energy calibration: one teacher pass over the '
                       'training set...')
    optim_wrapper = runner.optim_wrapper
    summary = calibrate_energy(
        model,
        runner.train_dataloader,
        seed=runner.seed if runner.seed is not None else 0,
        autocast=lambda: optim_wrapper.optim_context(model))
    runner.logger.info(
        f"Energy calibration over {summary['num_samples']} samples: "
        f"thresholds [low, high] per consumer {summary['thresholds']}")
    for name, (low, high) in summary['thresholds'].items():
        runner.message_hub.update_info(f'energy/{name}/low_threshold', low)
        runner.message_hub.update_info(f'energy/{name}/high_threshold', high)
    log_calibration(runner, summary, model.energy_consumers())
    return summary
