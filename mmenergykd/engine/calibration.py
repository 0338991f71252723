# Copyright (c) mmenergykd contributors. All rights reserved.
"""One teacher pass over the training set, shared by every energy consumer."""
import random
from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.model import is_model_wrapper
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from mmenergykd.models.losses.energy import (energy_score,
                                             sorted_index_thresholds)
from .loops import seed_everything_for_step

__all__ = [
    'unwrap_distiller', 'all_calibrated', 'calibrate_energy', 'QUANTILE_POINTS'
]

QUANTILE_POINTS = 1001


def unwrap_distiller(runner_model: torch.nn.Module) -> torch.nn.Module:
    """The ``EnergyKDDistiller`` inside a (possibly DDP-wrapped) model."""
    model = runner_model.module if is_model_wrapper(runner_model) \
        else runner_model
    if not hasattr(model, 'energy_consumers'):
        raise TypeError('Energy calibration and HE-DA need '
                        "`model.type='EnergyKDDistiller'`, got "
                        f'{type(model).__name__}.')
    return model


def all_calibrated(model: torch.nn.Module) -> bool:
    """Whether every energy consumer of the distiller has thresholds."""
    return all(c.is_calibrated for c in model.energy_consumers().values())


class _RNGGuard:
    """Leave Python / numpy / torch RNG states as they were."""

    def __enter__(self):
        self.states = (random.getstate(), np.random.get_state(),
                       torch.get_rng_state(), torch.cuda.get_rng_state_all()
                       if torch.cuda.is_available() else None)

    def __exit__(self, *exc):
        random.setstate(self.states[0])
        np.random.set_state(self.states[1])
        torch.set_rng_state(self.states[2])
        if self.states[3] is not None:
            torch.cuda.set_rng_state_all(self.states[3])
        return False


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

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int):
        seed_everything_for_step(self.seed, CALIBRATION_KEY, idx)
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


def _teacher_energies(runner, model,
                      temperatures: List[float]) -> Dict[float, Tensor]:
    """Energies of the calibration samples, the same on every rank.

    The samples are the first ``floor(N / batch_size) * batch_size`` of the
    epoch-0 order of a one-process run (the release drops the last partial
    batch); they are cut into that run's batches and the batches are dealt
    out to the ranks, each sample's transforms seeded from its index. Every
    rank ends with the energies a one-process calibration computes,
    bit for bit.
    """
    loader = runner.train_dataloader
    batch_size = loader.batch_size or 1
    rank, world = get_rank(), get_world_size()
    order = _single_process_order(loader)
    if order is None:
        raise TypeError(
            'Energy calibration needs a map-style training dataset with a '
            'sampler (MMEngine `DefaultSampler`); got '
            f'{type(getattr(loader, "sampler", None)).__name__}.')
    num_full = len(order) // batch_size * batch_size
    if num_full == 0:
        raise ValueError(
            'Energy calibration saw no full training batch: the training set '
            f'has {len(order)} samples, fewer samples than '
            f'`train_dataloader.batch_size` ({batch_size}). Lower the batch '
            'size or use a larger training set.')
    batches = [order[i:i + batch_size] for i in range(0, num_full, batch_size)]
    mine = list(range(rank, len(batches), world))
    seed = runner.seed if runner.seed is not None else 0
    calib_loader = DataLoader(
        _SeededSamples(loader.dataset, seed),
        batch_sampler=[batches[b] for b in mine],
        num_workers=getattr(loader, 'num_workers', 0),
        collate_fn=loader.collate_fn,
        pin_memory=False)
    num_classes = getattr(model.student.head, 'num_classes', None)

    def context():
        # The training step's autocast (AmpOptimWrapper) applies here too.
        if hasattr(runner.optim_wrapper, 'optim_context'):
            return runner.optim_wrapper.optim_context(model)
        return torch.no_grad()

    energies: Dict[float, List[Tensor]] = defaultdict(list)
    with _RNGGuard(), torch.no_grad():
        for batch_no, data in zip(mine, calib_loader):
            _check_labels(
                data.get('data_samples') or [], num_classes, batch_no)
            data = model.data_preprocessor(data, False)
            try:
                with context():
                    logits = model.teacher_logits(data['inputs'])
            except ValueError as err:
                shown = batches[batch_no][:16]
                raise ValueError(
                    f'Energy calibration, training batch {batch_no} '
                    f'(dataset indices {shown}'
                    f"{', ...' if len(batches[batch_no]) > 16 else ''}): "
                    f'{err} Training has not started; nothing was saved.'
                ) from err
            for temp in temperatures:
                energies[temp].append(energy_score(logits, temp).cpu())
    local = {
        t: [(b, e) for b, e in zip(mine, energies[t])]
        for t in temperatures
    }
    if world > 1:
        gathered = all_gather_object(local)
    else:
        gathered = [local]
    merged = {}
    for t in temperatures:
        parts = sorted((b, e) for g in gathered for b, e in g[t])
        merged[t] = torch.cat([e for _, e in parts]) if parts \
            else torch.zeros(0)
    return merged


def calibrate_energy(runner) -> dict:
    """Run the teacher over the training loader and set every threshold.

    Follows the release: training transforms, last partial batch dropped,
    all energies sorted, ``tau_low = sorted[int(N * low_ratio)]``,
    ``tau_high = sorted[N - int(N * high_ratio) - 1]`` for each consumer's
    ratios. The calibration samples and their batches are those of a
    one-process run (epoch-0 sampler order); each sample's transforms are
    seeded from its dataset index. Under DDP the batches are dealt out to
    the ranks and the energies gathered, so every rank sets the thresholds
    a one-process calibration sets. Global RNG states are restored
    afterwards, so calibrating does not change the run's random stream.

    Args:
        runner (Runner): The MMEngine runner (train loop built).

    Returns:
        dict: ``num_samples``, per-consumer ``thresholds`` ``[low, high]``
        and a ``quantiles`` table (``QUANTILE_POINTS`` evenly spaced
        quantiles per energy temperature) from which any ratio's threshold
        can be read approximately.
    """
    model = unwrap_distiller(runner.model)
    consumers = model.energy_consumers()
    temperatures = sorted({c.energy_temperature for c in consumers.values()})
    energies = _teacher_energies(runner, model, temperatures)
    for temp, values in energies.items():
        if not bool(torch.isfinite(values).all()):
            users = [
                n for n, c in consumers.items() if c.energy_temperature == temp
            ]
            raise ValueError(
                f'Energy calibration: the energies at energy_temperature='
                f'{temp:g} (used by {users}) are not finite. With finite '
                'teacher logits this means the energy temperature is too '
                'small for them (logits / T_E overflows); set '
                '`energy_temperature` of those entries to a usual value such '
                'as 4.0. Training has not started; nothing was saved.')
    num = int(energies[temperatures[0]].numel()) if temperatures else 0
    thresholds = {}
    for name, consumer in consumers.items():
        low, high = sorted_index_thresholds(
            energies[consumer.energy_temperature], consumer.low_ratio,
            consumer.high_ratio)
        consumer.set_thresholds(low, high)
        thresholds[name] = [low, high]
    probs = torch.linspace(0, 1, QUANTILE_POINTS)
    quantiles = {
        str(t): torch.quantile(e.double(), probs.double()).float()
        for t, e in energies.items()
    }
    return dict(num_samples=num, thresholds=thresholds, quantiles=quantiles)
