# Copyright (c) mmenergykd contributors. All rights reserved.
"""One teacher pass over the training set, shared by every energy consumer."""
import random
from collections import defaultdict
from typing import Dict, List

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_world_size
from mmengine.model import is_model_wrapper
from torch import Tensor

from mmenergykd.models.losses.energy import (energy_score,
                                             sorted_index_thresholds)

__all__ = ['unwrap_distiller', 'all_calibrated', 'calibrate_energy',
           'QUANTILE_POINTS']

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
                       torch.get_rng_state(),
                       torch.cuda.get_rng_state_all()
                       if torch.cuda.is_available() else None)

    def __exit__(self, *exc):
        random.setstate(self.states[0])
        np.random.set_state(self.states[1])
        torch.set_rng_state(self.states[2])
        if self.states[3] is not None:
            torch.cuda.set_rng_state_all(self.states[3])
        return False


def _teacher_energies(runner, model, temperatures: List[float]
                      ) -> Dict[float, Tensor]:
    """Energies of this rank's share of the training set, deduplicated."""
    loader = runner.train_dataloader
    batch_size = loader.batch_size
    energies: Dict[float, List[Tensor]] = defaultdict(list)
    indices: List[Tensor] = []

    def context():
        # The training step's autocast (AmpOptimWrapper) applies here too.
        if hasattr(runner.optim_wrapper, 'optim_context'):
            return runner.optim_wrapper.optim_context(model)
        return torch.no_grad()
    with _RNGGuard(), torch.no_grad():
        for batch_idx, data in enumerate(loader):
            data = model.data_preprocessor(data, False)
            inputs = data['inputs']
            if batch_size is not None and inputs.shape[0] < batch_size:
                continue  # the release drops the last partial batch
            try:
                with context():
                    logits = model.teacher_logits(inputs)
            except ValueError as err:
                raise ValueError(
                    f'Energy calibration, training batch {batch_idx}: {err} '
                    'Training has not started; nothing was saved.') from err
            for temp in temperatures:
                energies[temp].append(energy_score(logits, temp).cpu())
            samples = data.get('data_samples') or []
            if samples and all('sample_idx' in s for s in samples):
                indices.append(torch.tensor([s.sample_idx for s in samples]))
    local = {t: torch.cat(v) if v else torch.zeros(0)
             for t, v in energies.items()}
    local_idx = torch.cat(indices) if indices else None
    if get_world_size() > 1:
        gathered = all_gather_object((local, local_idx))
        merged = {
            t: torch.cat([g[0].get(t, torch.zeros(0)) for g in gathered])
            for t in temperatures
        }
        if all(g[1] is not None for g in gathered):
            all_idx = torch.cat([g[1] for g in gathered])
            # DistributedSampler pads with repeated samples: count each once.
            _, first = np.unique(all_idx.numpy(), return_index=True)
            keep = torch.from_numpy(np.sort(first))
            merged = {t: e[keep] for t, e in merged.items()}
        return merged
    return {t: local.get(t, torch.zeros(0)) for t in temperatures}


def calibrate_energy(runner) -> dict:
    """Run the teacher over the training loader and set every threshold.

    Follows the release: training transforms, last partial batch dropped,
    all energies sorted, ``tau_low = sorted[int(N * low_ratio)]``,
    ``tau_high = sorted[N - int(N * high_ratio) - 1]`` for each consumer's
    ratios. Under DDP each rank runs its shard; energies are gathered so
    every rank sets the same thresholds from the whole training set. Global
    RNG states are restored afterwards, so calibrating does not change the
    run's random stream.

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
    num = int(energies[temperatures[0]].numel()) if temperatures else 0
    if num == 0:
        raise ValueError(
            'Energy calibration saw no full training batch: the training set '
            f'has fewer samples than `train_dataloader.batch_size` '
            f'({runner.train_dataloader.batch_size}) per process. Lower the '
            'batch size or use a larger training set.')
    thresholds = {}
    for name, consumer in consumers.items():
        low, high = sorted_index_thresholds(energies[
            consumer.energy_temperature], consumer.low_ratio,
                                            consumer.high_ratio)
        consumer.set_thresholds(low, high)
        thresholds[name] = [low, high]
    probs = torch.linspace(0, 1, QUANTILE_POINTS)
    quantiles = {
        str(t): torch.quantile(e.double(), probs.double()).float()
        for t, e in energies.items()
    }
    return dict(num_samples=num, thresholds=thresholds, quantiles=quantiles)
