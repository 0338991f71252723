# Copyright (c) mmenergykd contributors. All rights reserved.
"""Energy scores, energy thresholds and the per-sample temperature rule."""
import math
import warnings
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

__all__ = [
    'energy_score', 'sorted_index_thresholds', 'batch_thresholds', 'is_number',
    'check_temperature', 'MAX_TEMPERATURE', 'assign_energy_groups',
    'check_ratio', 'check_positive', 'check_logits', 'check_finite_logits',
    'EnergyTemperatureMixin', 'init_calibration_record',
    'record_calibration_settings', 'fill_calibration_record',
    'calibration_settings_change'
]

LOW, MID, HIGH = 0, 1, 2


def energy_score(logits: Tensor, temperature: float = 4.0) -> Tensor:
    """Energy of each sample, ``-T * logsumexp(logits / T)``, in float32.

    Args:
        logits (Tensor): Logits of shape (B, C), any floating dtype.
        temperature (float): The energy temperature ``T_E``. Defaults to 4.0.

    Returns:
        Tensor: Energies of shape (B,), float32. Lower energy means a more
        confident model.

    Example:
        >>> energy_score(torch.tensor([[0., 0.]]), temperature=1.0)
        tensor([-0.6931])
    """
    check_temperature('energy_temperature', temperature)
    logits = logits.float()
    return -temperature * torch.logsumexp(logits / temperature, dim=1)


def is_number(value) -> bool:
    """An int or float, not a bool (``True`` is an int in Python)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_positive(name: str, value: float) -> None:
    """Raise a ValueError unless ``value`` is a finite number > 0."""
    if not is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(
            f'`{name}` must be a finite number > 0, got {value!r}. '
            f'Set `{name}` to a positive value in the config.')


#: Largest accepted temperature: far above any useful value (KD uses 1-20)
#: and far below where ``T ** 2`` or ``logits / T`` stop being meaningful in
#: float32.
MAX_TEMPERATURE = 1e4


def check_temperature(name: str, value: float) -> None:
    """Raise a ValueError unless ``0 < value <= MAX_TEMPERATURE``."""
    check_positive(name, value)
    if value > MAX_TEMPERATURE:
        raise ValueError(
            f'`{name}` must be at most {MAX_TEMPERATURE:g}, got {value!r} '
            '(KD temperatures are usually 1 to 20; the energy temperature '
            f'4). Set `{name}` to a value in (0, {MAX_TEMPERATURE:g}].')


def check_ratio(name: str, value: float) -> None:
    """Raise a ValueError unless ``value`` lies in [0, 1]."""
    if not is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError(
            f'`{name}` must be a share of the data in [0, 1], got '
            f'{value!r}. Set `{name}` between 0 and 1 in the config.')


def check_logits(student_logits: Tensor,
                 teacher_logits: Tensor,
                 check_finite: bool = True) -> None:
    """Check that student and teacher logits fit together and are usable.

    Args:
        student_logits (Tensor): Shape (B, C).
        teacher_logits (Tensor): Shape (B, C).
        check_finite (bool): Also raise on NaN / Inf teacher logits. This
            reads a value back from the device (a host-device
            synchronisation); ``EnergyKDDistiller`` turns it off in its
            losses because it checks the teacher's logits itself (see its
            ``check_finite_teacher``).
    """
    if student_logits.shape != teacher_logits.shape \
            or student_logits.dim() != 2:
        raise ValueError(
            'Student and teacher logits must both have shape (batch, '
            f'num_classes), got student {tuple(student_logits.shape)} and '
            f'teacher {tuple(teacher_logits.shape)}. Make `num_classes` of '
            'the student head equal to that of the teacher head.')
    if check_finite:
        check_finite_logits(teacher_logits)


def check_finite_logits(teacher_logits: Tensor) -> None:
    """Raise a ValueError when the teacher's logits hold NaN or Inf.

    Reads one value back from the device (a host-device synchronisation).
    """
    if not torch.isfinite(teacher_logits).all():
        raise ValueError(
            'The teacher produced non-finite logits (NaN or Inf). Check '
            '`teacher_ckpt` (a corrupted or mismatched checkpoint) and the '
            'input normalisation (`data_preprocessor` mean/std).')


def sorted_index_thresholds(energies: Tensor, low_ratio: float,
                            high_ratio: float) -> Tuple[float, float]:
    """Energy thresholds by the sorted-index rule of the Energy KD release.

    With the N energies sorted ascending, ``tau_low = sorted[int(N *
    low_ratio)]`` and ``tau_high = sorted[N - int(N * high_ratio) - 1]``.
    An index past the end means "every sample": ``tau_low = +inf`` when
    ``low_ratio`` is 1 and ``tau_high = -inf`` when ``high_ratio`` is 1.

    Args:
        energies (Tensor): Energies of shape (N,).
        low_ratio (float): Target share of the low-energy group.
        high_ratio (float): Target share of the high-energy group.

    Returns:
        tuple[float, float]: ``(tau_low, tau_high)``.
    """
    check_ratio('low_ratio', low_ratio)
    check_ratio('high_ratio', high_ratio)
    num = energies.numel()
    if num == 0:
        raise ValueError('Cannot compute energy thresholds from 0 samples.')
    ordered = torch.sort(energies.detach().float().flatten()).values
    low_idx = int(num * low_ratio)
    high_idx = num - int(num * high_ratio) - 1
    tau_low = math.inf if low_idx >= num else ordered[low_idx].item()
    tau_high = -math.inf if high_idx < 0 else ordered[high_idx].item()
    return tau_low, tau_high


def batch_thresholds(energies: Tensor, low_ratio: float,
                     high_ratio: float) -> Tuple[Tensor, Tensor]:
    """:func:`sorted_index_thresholds` on the device, as scalar tensors.

    The same sorted-index rule, but nothing is read back to the host, so a
    training step that splits a batch by its own quantiles does not wait
    for the device.

    Args:
        energies (Tensor): Energies of shape (N,), N > 0.
        low_ratio (float): Target share of the low-energy group.
        high_ratio (float): Target share of the high-energy group.

    Returns:
        tuple[Tensor, Tensor]: ``(tau_low, tau_high)``, float32 scalars on
        the energies' device.
    """
    num = energies.numel()
    if num == 0:
        raise ValueError('Cannot compute energy thresholds from 0 samples.')
    ordered = torch.sort(energies.detach().float().flatten()).values
    low_idx = int(num * low_ratio)
    high_idx = num - int(num * high_ratio) - 1
    tau_low = ordered.new_tensor(math.inf) if low_idx >= num \
        else ordered[low_idx]
    tau_high = ordered.new_tensor(-math.inf) if high_idx < 0 \
        else ordered[high_idx]
    return tau_low, tau_high


_SETTINGS = ('low_ratio', 'high_ratio', 'energy_temperature')
_RECORD = 'calibration_settings'


def init_calibration_record(module: nn.Module) -> None:
    """Register the buffer recording what the thresholds were computed for.

    ``calibration_settings`` holds ``(low_ratio, high_ratio,
    energy_temperature)`` of the last :meth:`set_thresholds` call (NaN until
    then). It travels with the thresholds into checkpoints, so a run that
    resumes (or loads) them under other settings is detected
    (:func:`calibration_settings_change`) instead of silently using
    thresholds computed for other ratios.
    """
    module.register_buffer(_RECORD, torch.full((len(_SETTINGS), ), math.nan))


def record_calibration_settings(module: nn.Module) -> None:
    """Store the module's current energy settings next to its thresholds."""
    getattr(module, _RECORD).copy_(
        torch.tensor([float(getattr(module, k)) for k in _SETTINGS]))


def fill_calibration_record(state_dict: dict, prefix: str) -> None:
    """Let checkpoints written before the record existed load strictly."""
    state_dict.setdefault(prefix + _RECORD,
                          torch.full((len(_SETTINGS), ), math.nan))


def calibration_settings_change(module: nn.Module) -> Optional[str]:
    """How the settings differ from those the thresholds were computed for.

    Args:
        module (nn.Module): An energy consumer (an energy loss or HE-DA).

    Returns:
        str | None: e.g. ``'high_ratio 0.2 -> 0.3'``; None when nothing
        changed or nothing is recorded (thresholds never set, or loaded from
        a checkpoint older than the record). Reads the small record back to
        the host: call it once before training, not per step.
    """
    record = getattr(module, _RECORD, None)
    if record is None:  # a consumer of the user's own, without the record
        return None
    saved = record.tolist()
    if any(math.isnan(v) for v in saved):
        return None
    changes = [
        f'{name} {old:g} -> {float(getattr(module, name)):g}'
        for name, old in zip(_SETTINGS, saved) if not math.isclose(
            old, float(getattr(module, name)), rel_tol=1e-6, abs_tol=1e-9)
    ]
    return ', '.join(changes) or None


def _version_of(tensor: Tensor) -> Optional[int]:
    """The in-place version counter of ``tensor`` (None for inference
    tensors, which have none)."""
    try:
        return tensor._version
    except RuntimeError:
        return None


def assign_energy_groups(energies: Tensor, tau_low: Tensor,
                         tau_high: Tensor) -> Tensor:
    """Group index per sample: 0 low (E < tau_low), 2 high (E > tau_high).

    The two thresholds are tensors on the energies' device, so no value is
    copied to the host.

    Args:
        energies (Tensor): Energies of shape (B,).
        tau_low (Tensor): Scalar low threshold.
        tau_high (Tensor): Scalar high threshold.

    Returns:
        Tensor: int64 group indices of shape (B,), ``LOW=0, MID=1, HIGH=2``.
        A sample below ``tau_low`` and above ``tau_high`` at once (possible
        only when the ratios add up to more than 1) counts as low.
    """
    groups = torch.full_like(energies, MID, dtype=torch.long)
    groups = torch.where(energies > tau_high, HIGH, groups)
    groups = torch.where(energies < tau_low, LOW, groups)
    return groups


class EnergyTemperatureMixin:
    """Energy grouping and per-sample temperatures for an ``nn.Module`` loss.

    The thresholds are buffers (``low_threshold``, ``high_threshold``; NaN
    until set) so they travel with the model's state dict into checkpoints.

    Args:
        low_energy_temperature (float): Temperature of low-energy (confident)
            samples. The paper's text gives them the higher temperature.
        mid_temperature (float): Temperature of the middle group.
        high_energy_temperature (float): Temperature of high-energy
            (uncertain) samples. The paper's text gives them the lower one.
        energy_temperature (float): ``T_E`` of the energy score.
        low_ratio (float): Share of the data in the low-energy group.
        high_ratio (float): Share of the data in the high-energy group.
    """

    def _init_energy(self, low_energy_temperature: float,
                     mid_temperature: float, high_energy_temperature: float,
                     energy_temperature: float, low_ratio: float,
                     high_ratio: float) -> None:
        for name, value in (('low_energy_temperature', low_energy_temperature),
                            ('mid_temperature', mid_temperature),
                            ('high_energy_temperature',
                             high_energy_temperature), ('energy_temperature',
                                                        energy_temperature)):
            check_temperature(name, value)
        check_ratio('low_ratio', low_ratio)
        check_ratio('high_ratio', high_ratio)
        if low_ratio + high_ratio > 1.0 + 1e-9:
            raise ValueError(
                f'`low_ratio` + `high_ratio` must be <= 1, got {low_ratio} + '
                f'{high_ratio}. Lower one of them.')
        self.low_energy_temperature = float(low_energy_temperature)
        self.mid_temperature = float(mid_temperature)
        self.high_energy_temperature = float(high_energy_temperature)
        self.energy_temperature = float(energy_temperature)
        self.low_ratio = float(low_ratio)
        self.high_ratio = float(high_ratio)
        assert isinstance(self, nn.Module)
        self.register_buffer('low_threshold', torch.tensor(math.nan))
        self.register_buffer('high_threshold', torch.tensor(math.nan))
        self.register_buffer(
            'group_temperatures',
            torch.tensor([
                self.low_energy_temperature, self.mid_temperature,
                self.high_energy_temperature
            ]),
            persistent=False)
        init_calibration_record(self)
        self._warned_batch_quantiles = False
        self._calibrated = False
        # Finite-check of the teacher logits in ``forward`` (a device sync);
        # EnergyKDDistiller turns it off as it checks the logits itself.
        self.check_finite = True
        self._clear_energy_cache()

    def _clear_energy_cache(self) -> None:
        # One entry each: (logits, version, energies) and (logits, version,
        # groups). A training step asks for the same teacher logits' energy
        # groups several times (the loss, the logged group shares, HE-DA);
        # the cache computes them once. The entry holds the logits itself,
        # so its identity cannot be reused by another tensor, and the
        # version counter catches in-place changes.
        self._energy_cache = None
        self._group_cache = None

    @property
    def is_calibrated(self) -> bool:
        """Whether both thresholds have been set (a host-side flag, so the
        per-step check never waits for the device)."""
        return self._calibrated

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        fill_calibration_record(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._clear_energy_cache()
        self._calibrated = not bool(
            torch.isnan(self.low_threshold).any()
            or torch.isnan(self.high_threshold).any())

    def set_thresholds(self, low: float, high: float) -> None:
        """Fix the two energy thresholds (``tau_low``, ``tau_high``).

        Args:
            low (float): Samples with energy below it are low-energy.
            high (float): Samples with energy above it are high-energy.
        """
        low, high = float(low), float(high)
        if math.isnan(low) or math.isnan(high):
            raise ValueError(f'Energy thresholds must not be NaN, got '
                             f'low={low}, high={high}.')
        self.low_threshold.fill_(low)
        self.high_threshold.fill_(high)
        record_calibration_settings(self)
        self._calibrated = True

    def _energy_key(self, logits: Tensor) -> Optional[tuple]:
        version = _version_of(logits)
        if version is None:
            return None
        return (version, self.energy_temperature)

    def _group_key(self, logits: Tensor) -> Optional[tuple]:
        key = self._energy_key(logits)
        if key is None:
            return None
        # The thresholds' identity and version counters: set_thresholds,
        # load_state_dict, an in-place edit or a device move all change it.
        return key + (self._calibrated, id(
            self.low_threshold), self.low_threshold._version,
                      id(self.high_threshold), self.high_threshold._version)

    @staticmethod
    def _lookup(entry, logits: Tensor, key: Optional[tuple]):
        if entry is None or key is None or entry[0] is not logits \
                or entry[1] != key:
            return None
        return entry[2]

    def energies(self, teacher_logits: Tensor) -> Tensor:
        """:func:`energy_score` of the logits at ``energy_temperature``.

        Computed once per logits tensor (a one-entry cache), however many
        times a step asks for it.

        Args:
            teacher_logits (Tensor): Teacher logits of shape (B, C).

        Returns:
            Tensor: float32 energies of shape (B,).
        """
        key = self._energy_key(teacher_logits)
        energies = self._lookup(self._energy_cache, teacher_logits, key)
        if energies is None:
            energies = energy_score(teacher_logits, self.energy_temperature)
            self._energy_cache = None if key is None else (teacher_logits, key,
                                                           energies)
        return energies

    def energy_groups(self, teacher_logits: Tensor) -> Tensor:
        """Energy group (0 low, 1 mid, 2 high) of each sample.

        Uses the calibrated thresholds; before calibration, the batch's own
        sorted-index quantiles (with a one-time warning). Nothing is read
        back from the device, and the groups of one logits tensor are
        computed once per step (see :meth:`energies`).

        Args:
            teacher_logits (Tensor): Teacher logits of shape (B, C).

        Returns:
            Tensor: int64 group indices of shape (B,).
        """
        key = self._group_key(teacher_logits)
        groups = self._lookup(self._group_cache, teacher_logits, key)
        if groups is not None:
            return groups
        if self.check_finite:
            # A NaN energy fails both threshold comparisons and would land
            # in the middle group silently. (Off inside EnergyKDDistiller,
            # which checks the teacher's logits once per step itself.)
            check_finite_logits(teacher_logits)
        energies = self.energies(teacher_logits)
        if self.is_calibrated:
            tau_low = self.low_threshold.to(energies.device)
            tau_high = self.high_threshold.to(energies.device)
        else:
            if not self._warned_batch_quantiles:
                warnings.warn(
                    f'{type(self).__name__}: energy thresholds are not set '
                    '(no EnergyCalibrationHook in the run and no '
                    'set_thresholds() call), so each batch is split by its '
                    'own energy quantiles. Add '
                    "dict(type='EnergyCalibrationHook') to `custom_hooks` to "
                    'calibrate on the training set.')
                self._warned_batch_quantiles = True
            tau_low, tau_high = batch_thresholds(energies, self.low_ratio,
                                                 self.high_ratio)
        groups = assign_energy_groups(energies, tau_low, tau_high)
        self._group_cache = None if key is None else (teacher_logits, key,
                                                      groups)
        return groups

    def sample_temperatures(self, teacher_logits: Tensor) -> Tensor:
        """Per-sample temperature from the teacher's energy group.

        Args:
            teacher_logits (Tensor): Teacher logits of shape (B, C).

        Returns:
            Tensor: float32 temperatures of shape (B,).
        """
        groups = self.energy_groups(teacher_logits)
        table = self.group_temperatures.to(groups.device)
        return table[groups]

    def extra_repr(self) -> str:
        return (f'low_energy_temperature={self.low_energy_temperature}, '
                f'mid_temperature={self.mid_temperature}, '
                f'high_energy_temperature={self.high_energy_temperature}, '
                f'energy_temperature={self.energy_temperature}, '
                f'low_ratio={self.low_ratio}, high_ratio={self.high_ratio}')


def group_shares(groups: Tensor) -> Sequence[Tensor]:
    """Shares of the low, middle and high groups (three float32 scalars).

    One comparison against ``[LOW, MID, HIGH]`` and one mean, on the device
    (no ``bincount``, which reads its input's maximum back on CUDA).
    """
    ids = torch.arange(3, device=groups.device)
    shares = (groups.reshape(-1, 1) == ids).float().mean(dim=0)
    return shares.unbind(0)
