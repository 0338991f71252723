# Copyright (c) mmenergykd contributors. All rights reserved.
"""The calibration pass: one teacher pass over the training set.

A function of what it needs (the distiller, the training dataloader, the
seed, the training step's autocast); the policy of when to run it lives in
:mod:`mmenergykd.engine.calibration_policy`, and the hooks only call that.
"""
from collections import defaultdict
from contextlib import nullcontext
from math import nan
from typing import Callable, ContextManager, Dict, List, Optional, Tuple

import torch
from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmengine.dist import all_gather_object, get_rank, get_world_size
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from mmenergykd.models.energy import (HIGH, LOW, MID, assign_energy_groups,
                                      energy_score, energy_thresholds,
                                      uncrossed_thresholds)
from mmenergykd.utils.seeding import (PreserveRNGState, only_cpu_generators,
                                      seed_everything_for_step)

__all__ = [
    'CALIBRATION_KEY', 'SeededSamples', 'calibrate_energy',
    'calibration_thresholds', 'group_statistics', 'sample_labels',
    'teacher_energies'
]

CALIBRATION_KEY = 0xCA11B  # separates calibration seeds from training's


class SeededSamples(Dataset):
    """``dataset[idx]`` with the global generators seeded from the index.

    The training transforms of a sample then draw the same numbers in the
    calibration pass whatever the number of processes, workers, the batch
    size or the order of the samples.

    Args:
        dataset: A map-style dataset.
        seed (int): The run's seed.
    """

    def __init__(self, dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed
        self.cpu_only = only_cpu_generators()

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int):
        seed_everything_for_step(
            self.seed, CALIBRATION_KEY, idx, cpu_only=self.cpu_only)
        return self.dataset[idx]


def _single_process_order(loader) -> Optional[List[int]]:
    """The sample order of epoch 0 as a one-process run would see it."""
    sampler = getattr(loader, 'sampler', None)
    if isinstance(sampler, (DefaultSampler, InfiniteSampler)):
        num = len(loader.dataset)
        if sampler.shuffle:
            gen = torch.Generator()
            gen.manual_seed(sampler.seed + getattr(sampler, 'epoch', 0))
            return torch.randperm(num, generator=gen).tolist()
        return list(range(num))
    if sampler is None:
        return None
    try:
        local = [int(i) for i in sampler]
    except TypeError:
        return None
    # Another sampler: interleave the ranks' shards, first occurrence wins.
    shards = all_gather_object(local) if get_world_size() > 1 else [local]
    order: Dict[int, None] = {}
    for pos in range(max(len(x) for x in shards)):
        for shard in shards:
            if pos < len(shard):
                order.setdefault(shard[pos], None)
    return list(order)


def _check_labels(samples: list, num_classes: Optional[int],
                  batch_no: int) -> None:
    if not num_classes:
        return
    for sample in samples:
        label = sample.get('gt_label') if hasattr(sample, 'get') else None
        if label is None or not isinstance(label, Tensor) or \
                label.numel() == 0:
            continue
        if int(label.max()) >= num_classes or int(label.min()) < 0:
            raise ValueError(
                f'Training batch {batch_no}: sample '
                f"{sample.get('sample_idx', '?')} has label "
                f'{label.tolist()}, outside the {num_classes} classes of '
                '`model.student.head.num_classes` / '
                '`model.teacher.head.num_classes`. Set `num_classes` to the '
                "dataset's class count. Training has not started; nothing "
                'was saved.')


def _calibration_batches(dataloader: DataLoader) -> List[List[int]]:
    """The full batches of a one-process run's epoch 0, as index lists."""
    batch_size = dataloader.batch_size or 1
    order = _single_process_order(dataloader)
    if order is None:
        raise TypeError(
            'Energy calibration needs a map-style training dataset with a '
            'sampler (MMEngine `DefaultSampler`); got '
            f'{type(getattr(dataloader, "sampler", None)).__name__}.')
    num_full = len(order) // batch_size * batch_size
    if num_full == 0:
        raise ValueError(
            'Energy calibration saw no full training batch: the training set '
            f'has {len(order)} samples, fewer samples than '
            f'`train_dataloader.batch_size` ({batch_size}). Lower the batch '
            'size or use a larger training set.')
    return [order[i:i + batch_size] for i in range(0, num_full, batch_size)]


def sample_labels(samples: list) -> Tensor:
    """The first ground-truth label of each sample; -1 where there is none.

    Args:
        samples (list): Data samples (``DataSample`` s, or anything else,
            which counts as unlabelled).

    Returns:
        Tensor: int64 labels (N,).
    """
    labels = []
    for sample in samples:
        label = sample.get('gt_label') if hasattr(sample, 'get') else None
        ok = isinstance(label, Tensor) and label.numel() > 0
        labels.append(int(label.reshape(-1)[0]) if ok else -1)
    return torch.tensor(labels, dtype=torch.long)


def _batch_logits(model, data: dict, batch: List[int], batch_no: int,
                  autocast: Callable[[], ContextManager]) -> Tensor:
    num_classes = getattr(model.student.head, 'num_classes', None)
    _check_labels(data.get('data_samples') or [], num_classes, batch_no)
    data = model.data_preprocessor(data, False)
    inputs, data_samples = data['inputs'], data.get('data_samples')
    if isinstance(inputs, (list, tuple)):  # two views: the weak one
        inputs = inputs[0]
    try:
        with autocast():
            return model.teacher_source.logits(inputs, data_samples)
    except ValueError as err:
        more = ', ...' if len(batch) > 16 else ''
        raise ValueError(
            f'Energy calibration, training batch {batch_no} (dataset indices '
            f'{batch[:16]}{more}): {err} Training has not started; nothing '
            'was saved.') from err


def _gather(local: Dict[object, list], keys: list) -> Dict[object, Tensor]:
    """Every rank's ``(batch number, values)``, merged in batch order."""
    gathered = all_gather_object(local) if get_world_size() > 1 else [local]
    merged = {}
    for key in keys:
        parts = sorted(((b, e) for g in gathered for b, e in g[key]),
                       key=lambda part: part[0])
        merged[key] = torch.cat([e for _, e in parts]) if parts \
            else torch.zeros(0)
    return merged


def _teacher_pass(model, dataloader: DataLoader, temperatures: List[float],
                  seed: int, autocast: Optional[Callable[[], ContextManager]]
                  ) -> Dict[object, Tensor]:
    """Energies per temperature, ``'label'`` and the teacher's top-1
    ``'pred'`` of the calibration samples (see :func:`teacher_energies`)."""
    autocast = autocast or nullcontext
    batches = _calibration_batches(dataloader)
    mine = list(range(get_rank(), len(batches), get_world_size()))
    loader = DataLoader(
        SeededSamples(dataloader.dataset, seed),
        batch_sampler=[batches[b] for b in mine],
        num_workers=getattr(dataloader, 'num_workers', 0),
        collate_fn=dataloader.collate_fn,
        pin_memory=False)
    local: Dict[object, list] = defaultdict(list)
    with PreserveRNGState(), torch.no_grad():
        for batch_no, data in zip(mine, loader):
            local['label'].append(
                (batch_no, sample_labels(data.get('data_samples') or [])))
            logits = _batch_logits(model, data, batches[batch_no], batch_no,
                                   autocast)
            local['pred'].append((batch_no, logits.argmax(dim=1).cpu()))
            for temp in temperatures:
                energies = energy_score(logits, temp).cpu()
                local[temp].append((batch_no, energies))
    return _gather(local, list(temperatures) + ['label', 'pred'])


def teacher_energies(
    model,
    dataloader: DataLoader,
    temperatures: List[float],
    seed: int = 0,
    autocast: Optional[Callable[[], ContextManager]] = None
) -> Dict[float, Tensor]:
    """Energies of the calibration samples, the same on every rank.

    The samples are the first ``floor(N / batch_size) * batch_size`` of the
    epoch-0 order of a one-process run (the release drops the last partial
    batch); they are cut into that run's batches and the batches are dealt
    out to the ranks, each sample's transforms seeded from its index. Every
    rank ends with the energies a one-process calibration computes, bit for
    bit.

    Args:
        model (EnergyKDDistiller): The distiller (its data preprocessor and
            teacher are used).
        dataloader (DataLoader): The training dataloader.
        temperatures (list[float]): Energy temperatures to compute.
        seed (int): The run's seed (seeds each sample's transforms).
        autocast (callable, optional): Returns the training step's autocast
            context (e.g. ``AmpOptimWrapper.optim_context``).

    Returns:
        dict[float, Tensor]: Energies per temperature, in sample order.
    """
    passed = _teacher_pass(model, dataloader, temperatures, seed, autocast)
    return {temp: passed[temp] for temp in temperatures}


def calibration_thresholds(energies: Tensor, consumer) -> Tuple[float, float]:
    """The threshold rule of calibration, for one consumer's ratios.

    The sorted-index rule of the release
    (:func:`~mmenergykd.models.energy.energy_thresholds`) at the consumer's
    ``low_ratio`` / ``high_ratio``, as :func:`calibrate_energy` sets it.

    Args:
        energies (Tensor): Energies (N,) at the consumer's ``T_E``.
        consumer (EnergyConsumer): Gives ``low_ratio`` and ``high_ratio``.

    Returns:
        tuple[float, float]: ``(tau_low, tau_high)``.
    """
    low, high = uncrossed_thresholds(
        *energy_thresholds(energies, consumer.low_ratio, consumer.high_ratio))
    return low.item(), high.item()


def group_statistics(energies: Tensor, low: float, high: float, labels: Tensor,
                     preds: Tensor) -> dict:
    """Counts, shares and the teacher's top-1 (%) per energy group.

    Args:
        energies (Tensor): Energies (N,).
        low (float): ``tau_low``.
        high (float): ``tau_high``.
        labels (Tensor): Ground-truth label per sample (-1: none).
        preds (Tensor): The teacher's top-1 class per sample.

    Returns:
        dict: ``counts``, ``shares`` and ``teacher_top1`` (NaN for an empty
        group or one without labels), each a list ``[low, mid, high]``.
    """
    groups = assign_energy_groups(energies.float(), torch.tensor(low),
                                  torch.tensor(high))
    num = max(int(groups.numel()), 1)
    counts, top1 = [], []
    for group in (LOW, MID, HIGH):
        mine = groups == group
        labelled = mine & (labels >= 0)
        counts.append(int(mine.sum()))
        top1.append(100.0 *
                    float((preds[labelled] == labels[labelled]).sum()) /
                    int(labelled.sum()) if bool(labelled.any()) else nan)
    return dict(
        counts=counts, shares=[c / num for c in counts], teacher_top1=top1)


def _check_finite_energies(energies: Dict[float, Tensor],
                           consumers: dict) -> None:
    for temp, values in energies.items():
        if bool(torch.isfinite(values).all()):
            continue
        users = [
            n for n, c in consumers.items() if c.energy_temperature == temp
        ]
        raise ValueError(
            f'Energy calibration: the energies at energy_temperature='
            f'{temp:g} (used by {users}) are not finite. With finite teacher '
            'logits this means the energy temperature is too small for them '
            '(logits / T_E overflows); set `energy_temperature` of those '
            'entries to a usual value such as 4.0. Training has not started; '
            'nothing was saved.')


def calibrate_energy(model,
                     dataloader: DataLoader,
                     seed: int = 0,
                     autocast: Optional[Callable[[], ContextManager]] = None
                     ) -> dict:
    """Run the teacher over the training set and set every threshold.

    Follows the release: training transforms, last partial batch dropped,
    all energies sorted, ``tau_low = sorted[int(N * low_ratio)]``,
    ``tau_high = sorted[N - int(N * high_ratio) - 1]`` for each consumer's
    ratios (:func:`~mmenergykd.models.energy.energy_thresholds`). The samples
    and batches are those of a one-process run (:func:`teacher_energies`),
    so under DDP every rank sets the thresholds a one-process calibration
    sets. Global RNG states are restored afterwards, so calibrating does not
    change the run's random stream.

    Args:
        model (EnergyKDDistiller): The distiller, unwrapped.
        dataloader (DataLoader): The training dataloader.
        seed (int): The run's seed.
        autocast (callable, optional): Returns the training step's autocast
            context.

    Returns:
        dict: ``num_samples``; per consumer ``thresholds`` ``[low, high]``
        and ``groups`` (:func:`group_statistics`: counts, shares, the
        teacher's top-1 per group); ``energies`` (``T_E`` -> Tensor (N,))
        and ``labels`` (N,) of the calibration samples, for pictures (too
        large for a checkpoint: keep ``num_samples`` and ``thresholds``).
    """
    consumers = model.energy_consumers()
    temperatures = sorted({c.energy_temperature for c in consumers.values()})
    passed = _teacher_pass(model, dataloader, temperatures, seed, autocast)
    energies = {temp: passed[temp] for temp in temperatures}
    _check_finite_energies(energies, consumers)
    num = int(passed['label'].numel())
    thresholds, groups = {}, {}
    for name, consumer in consumers.items():
        values = energies[consumer.energy_temperature]
        low, high = calibration_thresholds(values, consumer)
        consumer.set_thresholds(low, high)
        thresholds[name] = [low, high]
        groups[name] = group_statistics(values, low, high, passed['label'],
                                        passed['pred'])
    return dict(
        num_samples=num,
        thresholds=thresholds,
        groups=groups,
        energies=energies,
        labels=passed['label'])
