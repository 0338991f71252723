# Copyright (c) mmenergykd contributors. All rights reserved.
from typing import Optional

from mmengine.hooks import Hook

from mmenergykd.engine.calibration_policy import (current_thresholds,
                                                  ensure_calibrated,
                                                  unwrap_distiller)
from mmenergykd.evaluation import EnergyGroupAccuracy
from mmenergykd.models.distillers.energy_annotation import \
    set_energy_annotation
from mmenergykd.registry import HOOKS

__all__ = ['EnergyCalibrationHook']

CKPT_KEY = 'energy_calibration'


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

    The calibration pass also goes to the runner's visualizer (the energy
    histogram with its thresholds as an image, thresholds, group shares and
    counts, the teacher's top-1 per group and HE-DA's selection as scalars:
    see :mod:`mmenergykd.engine.calibration_report`).

    Before a validation or test loop whose evaluator lists
    ``EnergyGroupAccuracy``, the hook switches on the distiller's energy
    annotation (one teacher forward per validation batch, see
    :mod:`mmenergykd.models.distillers.energy_annotation`), and off again
    after the loop.

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
        summary = ensure_calibrated(runner, self.recalibrate_on_change)
        if summary is not None:
            # The energies stay out of checkpoints (they are in the logs).
            self.state = dict(
                num_samples=summary['num_samples'],
                thresholds=summary['thresholds'])
        elif not self.state:
            self.state = dict(
                thresholds=current_thresholds(unwrap_distiller(runner.model)))

    def before_val(self, runner) -> None:
        _switch_energy_annotation(runner, runner.val_loop)

    def after_val(self, runner) -> None:
        set_energy_annotation(unwrap_distiller(runner.model), False)

    def before_test(self, runner) -> None:
        _switch_energy_annotation(runner, runner.test_loop)

    def after_test(self, runner) -> None:
        set_energy_annotation(unwrap_distiller(runner.model), False)

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


def _switch_energy_annotation(runner, loop) -> None:
    """Annotate predictions with energy groups iff the loop's evaluator
    lists ``EnergyGroupAccuracy``."""
    metrics = getattr(getattr(loop, 'evaluator', None), 'metrics', None) or []
    wanted = any(isinstance(m, EnergyGroupAccuracy) for m in metrics)
    set_energy_annotation(unwrap_distiller(runner.model), wanted)
