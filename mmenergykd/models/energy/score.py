# Copyright (c) mmenergykd contributors. All rights reserved.
"""The energy score and the one threshold rule of Energy KD."""
import math
from typing import Sequence, Tuple

import torch
from torch import Tensor

from mmenergykd.utils.validation import check_ratio, check_temperature

__all__ = [
    'LOW', 'MID', 'HIGH', 'energy_score', 'energy_thresholds',
    'sorted_index_thresholds', 'uncrossed_thresholds', 'assign_energy_groups',
    'group_shares'
]

#: Group indices: low energy (confident teacher), middle, high (uncertain).
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


def energy_thresholds(energies: Tensor, low_ratio: float,
                      high_ratio: float) -> Tuple[Tensor, Tensor]:
    """The sorted-index rule of the Energy KD release, on the device.

    With the N energies sorted ascending, ``tau_low = sorted[int(N *
    low_ratio)]`` and ``tau_high = sorted[N - int(N * high_ratio) - 1]``.
    An index past the end means "every sample": ``tau_low = +inf`` when
    ``low_ratio`` is 1 and ``tau_high = -inf`` when ``high_ratio`` is 1.
    Nothing is read back to the host, so a training step that splits a
    batch by its own quantiles does not wait for the device.

    Args:
        energies (Tensor): Energies of shape (N,), N > 0.
        low_ratio (float): Target share of the low-energy group.
        high_ratio (float): Target share of the high-energy group.

    Returns:
        tuple[Tensor, Tensor]: ``(tau_low, tau_high)``, float32 scalars on
        the energies' device.
    """
    check_ratio('low_ratio', low_ratio)
    check_ratio('high_ratio', high_ratio)
    num = energies.numel()
    if num == 0:
        raise ValueError(
            'Cannot compute energy thresholds from 0 samples (an empty '
            'batch or training set). Feed at least one sample; check the '
            'dataset and `batch_size`.')
    ordered = torch.sort(energies.detach().float().flatten()).values
    low_idx = int(num * low_ratio)
    high_idx = num - int(num * high_ratio) - 1
    tau_low = ordered.new_tensor(math.inf) if low_idx >= num \
        else ordered[low_idx]
    tau_high = ordered.new_tensor(-math.inf) if high_idx < 0 \
        else ordered[high_idx]
    return tau_low, tau_high


def sorted_index_thresholds(energies: Tensor, low_ratio: float,
                            high_ratio: float) -> Tuple[float, float]:
    """:func:`energy_thresholds` as Python floats (reads them back).

    Args:
        energies (Tensor): Energies of shape (N,).
        low_ratio (float): Target share of the low-energy group.
        high_ratio (float): Target share of the high-energy group.

    Returns:
        tuple[float, float]: ``(tau_low, tau_high)``.
    """
    tau_low, tau_high = energy_thresholds(energies, low_ratio, high_ratio)
    return tau_low.item(), tau_high.item()


def uncrossed_thresholds(tau_low: Tensor,
                         tau_high: Tensor) -> Tuple[Tensor, Tensor]:
    """Thresholds that do not cross, splitting the data as the rule does.

    The rule gives ``tau_low > tau_high`` only when ``low_ratio +
    high_ratio`` is exactly 1: then ``tau_low`` and ``tau_high`` are
    neighbours in the sorted energies and both sit at their midpoint, which
    assigns the calibration samples to the same groups as the crossed pair
    (unless the two neighbours are adjacent floats, where the midpoint
    rounds onto one of them) and keeps ``low <= high`` (which
    :meth:`EnergyConsumer.set_thresholds` requires). An energy between the
    two neighbours, low before, now goes to the side of the midpoint it is
    on.

    Args:
        tau_low (Tensor): Scalar low threshold.
        tau_high (Tensor): Scalar high threshold.

    Returns:
        tuple[Tensor, Tensor]: ``(tau_low, tau_high)`` with low <= high.
    """
    crossed = tau_low > tau_high
    # An infinite threshold (ratio 1) stays: every sample is in its group.
    # Tensors only, so nothing is read back to the host.
    middle = torch.where(
        torch.isinf(tau_high), tau_high,
        torch.where(
            torch.isinf(tau_low), tau_low,
            tau_high + (tau_low - tau_high) / 2))
    return (torch.where(crossed, middle,
                        tau_low), torch.where(crossed, middle, tau_high))


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
        A sample below ``tau_low`` and above ``tau_high`` at once (only with
        crossed thresholds) counts as low.
    """
    groups = torch.full_like(energies, MID, dtype=torch.long)
    groups = torch.where(energies > tau_high, HIGH, groups)
    groups = torch.where(energies < tau_low, LOW, groups)
    return groups


def group_shares(groups: Tensor) -> Sequence[Tensor]:
    """Shares of the low, middle and high groups (three float32 scalars).

    One comparison against ``[LOW, MID, HIGH]`` and one mean, on the device
    (no ``bincount``, which reads its input's maximum back on CUDA).
    """
    ids = torch.arange(3, device=groups.device)
    shares = (groups.reshape(-1, 1) == ids).float().mean(dim=0)
    return shares.unbind(0)
