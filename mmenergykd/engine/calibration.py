# Copyright (c) mmenergykd contributors. All rights reserved.
"""The calibration pass: one teacher pass over the training set.

A function of what it needs (the distiller, the training dataloader, the
seed, the training step's autocast); the policy of when to run it lives in
:mod:`mmenergykd.engine.calibration_policy`, and the hooks only call that.
"""
from collections import defaultdict
from contextlib import nullcontext
from typing import Callable, ContextManager, Dict, List, Optional

import torch
from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmengine.dist import all_gather_object, get_rank, get_world_size
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from mmenergykd.models.energy import (energy_score, energy_thresholds,
                                      uncrossed_thresholds)
from mmenergykd.utils.seeding import (PreserveRNGState, only_cpu_generators,
                                      seed_everything_for_step)

__all__ = ['calibrate_energy', 'teacher_energies']

CALIBRATION_KEY = 0xCA11B  # separates calibration seeds from training's


class _SeededSamples(Dataset):
    """``dataset[idx]`` with the global generators seeded from the index.

    The training transforms of a sample then draw the same numbers in the
    calibration pass whatever the number of processes, workers, the batch
    size or the order of the samples.
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


def _gather(local: Dict[float, list],
            temperatures: List[float]) -> Dict[float, Tensor]:
    """Every rank's ``(batch number, energies)``, merged in batch order."""
    gathered = all_gather_object(local) if get_world_size() > 1 else [local]
    merged = {}
    for t in temperatures:
        parts = sorted((b, e) for g in gathered for b, e in g[t])
        merged[t] = torch.cat([e for _, e in parts]) if parts \
            else torch.zeros(0)
    return merged


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
    autocast = autocast or nullcontext
    batches = _calibration_batches(dataloader)
    mine = list(range(get_rank(), len(batches), get_world_size()))
    loader = DataLoader(
        _SeededSamples(dataloader.dataset, seed),
        batch_sampler=[batches[b] for b in mine],
        num_workers=getattr(dataloader, 'num_workers', 0),
        collate_fn=dataloader.collate_fn,
        pin_memory=False)
    local: Dict[float, list] = defaultdict(list)
    with PreserveRNGState(), torch.no_grad():
        for batch_no, data in zip(mine, loader):
            logits = _batch_logits(model, data, batches[batch_no], batch_no,
                                   autocast)
            for temp in temperatures:
                energies = energy_score(logits, temp).cpu()
                local[temp].append((batch_no, energies))
    return _gather(local, temperatures)


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
        dict: ``num_samples`` and per-consumer ``thresholds`` ``[low,
        high]``.
    """
    consumers = model.energy_consumers()
    temperatures = sorted({c.energy_temperature for c in consumers.values()})
    energies = teacher_energies(model, dataloader, temperatures, seed,
                                autocast)
    _check_finite_energies(energies, consumers)
    num = int(energies[temperatures[0]].numel()) if temperatures else 0
    thresholds = {}
    for name, consumer in consumers.items():
        low, high = uncrossed_thresholds(
            *energy_thresholds(energies[consumer.energy_temperature],
                               consumer.low_ratio, consumer.high_ratio))
        consumer.set_thresholds(low.item(), high.item())
        thresholds[name] = [low.item(), high.item()]
    return dict(num_samples=num, thresholds=thresholds)
