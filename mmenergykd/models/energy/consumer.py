# Copyright (c) mmenergykd contributors. All rights reserved.
"""The energy-consumer base: what receives calibrated energy thresholds."""
import math
import warnings
from typing import Dict, Iterable, Optional, Tuple

import torch
from torch import Tensor, nn

from mmenergykd.utils.validation import (check_finite_logits, check_ratio,
                                         check_temperature)
from .score import (assign_energy_groups, energy_score, energy_thresholds,
                    uncrossed_thresholds)

__all__ = ['EnergyConsumer', 'step_energies']

#: The settings the thresholds depend on, recorded next to them.
_SETTINGS = ('low_ratio', 'high_ratio', 'energy_temperature')
_RECORD = 'calibration_settings'


class EnergyConsumer(nn.Module):
    """Base of every module that splits samples by the teacher's energy.

    The energy losses and HE-DA inherit it. It owns the two thresholds
    (buffers ``low_threshold`` / ``high_threshold``, NaN until set, so they
    travel into checkpoints), the settings they were computed for
    (``calibration_settings``: compared on load, see
    :meth:`calibration_settings_change`), ``is_calibrated``,
    :meth:`set_thresholds`, and the fallback for an uncalibrated run: each
    batch split by its own sorted-index quantiles, with one warning.
    ``EnergyCalibrationHook`` finds consumers by this type.

    Args:
        energy_temperature (float): ``T_E`` of the energy score.
            Defaults to 4.0.
        low_ratio (float): Share of the data in the low-energy group.
            Defaults to 0.2.
        high_ratio (float): Share of the data in the high-energy group.
            Defaults to 0.2.

    Example:
        >>> consumer = EnergyConsumer(low_ratio=0.2, high_ratio=0.2)
        >>> consumer.set_thresholds(-10.0, -8.0)
        >>> consumer.energy_groups(torch.randn(8, 100))
    """

    def __init__(self,
                 energy_temperature: float = 4.0,
                 low_ratio: float = 0.2,
                 high_ratio: float = 0.2) -> None:
        super().__init__()
        check_temperature('energy_temperature', energy_temperature)
        check_ratio('low_ratio', low_ratio)
        check_ratio('high_ratio', high_ratio)
        if low_ratio + high_ratio > 1.0 + 1e-9:
            raise ValueError(
                f'`low_ratio` + `high_ratio` must be <= 1, got {low_ratio} + '
                f'{high_ratio}. Lower one of them.')
        self.energy_temperature = float(energy_temperature)
        self.low_ratio = float(low_ratio)
        self.high_ratio = float(high_ratio)
        self.register_buffer('low_threshold', torch.tensor(math.nan))
        self.register_buffer('high_threshold', torch.tensor(math.nan))
        self.register_buffer(_RECORD, torch.full((len(_SETTINGS), ), math.nan))
        self._calibrated = False
        self._warned_batch_quantiles = False

    # thresholds ------------------------------------------------------------
    @property
    def is_calibrated(self) -> bool:
        """Whether both thresholds are set (a host-side flag, so the
        per-step check never waits for the device)."""
        return self._calibrated

    def set_thresholds(self, low: float, high: float) -> None:
        """Fix the two energy thresholds (``tau_low``, ``tau_high``).

        Args:
            low (float): Samples with energy below it are low-energy.
            high (float): Samples with energy above it are high-energy.
        """
        low, high = float(low), float(high)
        if math.isnan(low) or math.isnan(high):
            raise ValueError(
                f'Energy thresholds must not be NaN, got low={low}, '
                f'high={high}. Calibrate them with EnergyCalibrationHook (or '
                'pass numbers computed from finite teacher energies).')
        if low > high:
            raise ValueError(
                f'Energy thresholds must satisfy low <= high, got low={low} '
                f'> high={high}: the low- and high-energy groups would '
                'overlap. Pass the lower threshold first: '
                'set_thresholds(low, high).')
        self.low_threshold.fill_(low)
        self.high_threshold.fill_(high)
        getattr(self, _RECORD).copy_(
            torch.tensor([float(getattr(self, k)) for k in _SETTINGS]))
        self._calibrated = True

    def calibration_settings_change(self) -> Optional[str]:
        """How the settings differ from those the thresholds were set for.

        Returns:
            str | None: e.g. ``'high_ratio 0.2 -> 0.3'``; None when nothing
            changed or nothing is recorded (thresholds never set, or loaded
            from a checkpoint older than the record). Reads the small record
            back to the host: call it once before training, not per step.
        """
        saved = getattr(self, _RECORD).tolist()
        if any(math.isnan(v) for v in saved):
            return None
        changes = [
            f'{name} {old:g} -> {float(getattr(self, name)):g}'
            for name, old in zip(_SETTINGS, saved) if not math.isclose(
                old, float(getattr(self, name)), rel_tol=1e-6, abs_tol=1e-9)
        ]
        return ', '.join(changes) or None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints written before the record (or, for HE-DA, before it
        # had a low threshold) load strictly.
        state_dict.setdefault(prefix + _RECORD,
                              torch.full((len(_SETTINGS), ), math.nan))
        if prefix + 'high_threshold' in state_dict:
            state_dict.setdefault(prefix + 'low_threshold',
                                  torch.tensor(-math.inf))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._calibrated = not bool(
            torch.isnan(self.low_threshold).any()
            or torch.isnan(self.high_threshold).any())

    # per batch -------------------------------------------------------------
    def energies(self,
                 teacher_logits: Tensor,
                 check_finite: bool = True) -> Tensor:
        """:func:`energy_score` of the logits at ``energy_temperature``.

        Args:
            teacher_logits (Tensor): Teacher logits of shape (B, C).
            check_finite (bool): Refuse non-finite logits (one device
                sync; not inside ``teacher_logits_checked``, where the
                caller checked them). Defaults to True.

        Returns:
            Tensor: float32 energies of shape (B,).
        """
        # A NaN energy fails both threshold comparisons and would land in
        # the middle group silently.
        if check_finite:
            check_finite_logits(teacher_logits)
        return energy_score(teacher_logits, self.energy_temperature)

    def thresholds(self, energies: Tensor) -> Tuple[Tensor, Tensor]:
        """The thresholds to split ``energies`` with, on their device.

        The calibrated ones; before calibration, the batch's own
        sorted-index quantiles (with a one-time warning). Nothing is read
        back from the device.
        """
        if self.is_calibrated:
            return (self.low_threshold.to(energies.device),
                    self.high_threshold.to(energies.device))
        if not self._warned_batch_quantiles:
            warnings.warn(
                f'{type(self).__name__}: energy thresholds are not set (no '
                'EnergyCalibrationHook in the run and no set_thresholds() '
                "call), so each batch is split by its own energy quantiles. "
                "Add dict(type='EnergyCalibrationHook') to `custom_hooks` to "
                'calibrate on the training set.')
            self._warned_batch_quantiles = True
        return uncrossed_thresholds(
            *energy_thresholds(energies, self.low_ratio, self.high_ratio))

    def energy_groups(self,
                      teacher_logits: Tensor,
                      energies: Optional[Tensor] = None) -> Tensor:
        """Energy group (0 low, 1 mid, 2 high) of each sample.

        Args:
            teacher_logits (Tensor): Teacher logits of shape (B, C).
            energies (Tensor, optional): Their energies at
                ``energy_temperature`` when the caller already has them
                (the distiller computes them once per step).

        Returns:
            Tensor: int64 group indices of shape (B,).
        """
        if energies is None:
            energies = self.energies(teacher_logits)
        elif energies.shape != teacher_logits.shape[:1]:
            raise ValueError(
                f'`energies` must hold one energy per sample, shape '
                f'{tuple(teacher_logits.shape[:1])}, got '
                f'{tuple(energies.shape)}: pass the energies of these '
                'teacher logits (or none, to compute them here).')
        return assign_energy_groups(energies, *self.thresholds(energies))

    def extra_repr(self) -> str:
        return (f'energy_temperature={self.energy_temperature}, '
                f'low_ratio={self.low_ratio}, high_ratio={self.high_ratio}')


def step_energies(consumers: Iterable[EnergyConsumer],
                  teacher_logits: Tensor) -> Dict[float, Tensor]:
    """The teacher's energies at each consumer's ``T_E``, once a step.

    Consumers sharing a ``T_E`` share one computation. The logits are not
    checked here: the caller checked them where they were produced.

    Args:
        consumers (Iterable[EnergyConsumer]): The step's energy consumers.
        teacher_logits (Tensor): The teacher's logits (B, C).

    Returns:
        dict[float, Tensor]: ``T_E`` -> float32 energies (B,).
    """
    energies: Dict[float, Tensor] = {}
    for consumer in consumers:
        if consumer.energy_temperature not in energies:
            energies[consumer.energy_temperature] = consumer.energies(
                teacher_logits, check_finite=False)
    return energies
