# Copyright (c) mmenergykd contributors. All rights reserved.
"""One teacher pass over a split, every sample once, in index order.

Each sample's random transforms are seeded from its index exactly as in the
calibration pass (:class:`~mmenergykd.engine.calibration.SeededSamples`,
the run's seed), so ``--split train`` sees the very training views that
calibration sees, whatever the batch size or worker count, and two runs of
the analysis give the same numbers.
"""
import copy
from typing import Dict, List

import numpy as np
import torch
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.utils import ProgressBar
from torch import Tensor

from mmenergykd.engine.calibration import SeededSamples, sample_labels
from mmenergykd.models.energy import energy_score
from mmenergykd.utils.seeding import PreserveRNGState

__all__ = ['energy_pass', 'sample_images']


def _loader(dataset, loader_cfg: dict, seed: int, scope: str):
    """The split's dataloader settings over every sample, in order."""
    cfg = copy.deepcopy(dict(loader_cfg))
    for key in ('dataset', 'sampler', 'batch_sampler', 'drop_last',
                'persistent_workers', 'shuffle'):
        cfg.pop(key, None)
    cfg.update(
        dataset=SeededSamples(dataset, seed),
        sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
        persistent_workers=False)
    with DefaultScope.overwrite_default_scope(scope):
        return Runner.build_dataloader(cfg)


def _top3(logits: Tensor) -> Dict[str, Tensor]:
    """Softmax (T = 1) top-3 classes and probabilities, confidence and
    margin (top-1 minus top-2 probability; 0 with one class)."""
    probs = torch.softmax(logits.float(), dim=1)
    k = min(3, probs.shape[1])
    top = probs.topk(k, dim=1)
    values, indices = top.values, top.indices
    if k < 3:  # pad to three columns
        pad = 3 - k
        values = torch.cat([values, values.new_full((len(values), pad), 0)], 1)
        indices = torch.cat(
            [indices, indices.new_full((len(indices), pad), -1)], 1)
    return dict(
        top3=indices,
        top3_prob=values,
        confidence=values[:, 0],
        margin=values[:, 0] - values[:, 1])


def _batch(model, data: dict, temperature: float, banked: bool,
           with_student: bool) -> Dict[str, Tensor]:
    labels = sample_labels(data.get('data_samples') or [])
    data = model.data_preprocessor(data, False)
    inputs, samples = data['inputs'], data.get('data_samples')
    if isinstance(inputs, (list, tuple)):  # several views: the first one
        inputs = inputs[0]
    logits = model.teacher_source.logits(inputs, samples, banked=banked)
    out = dict(
        label=labels,
        energy=energy_score(logits, temperature),
        teacher_pred=logits.argmax(dim=1),
        **_top3(logits))
    if with_student:
        out['student_pred'] = model.student_logits(inputs).argmax(dim=1)
    return {k: v.detach().cpu() for k, v in out.items()}


def energy_pass(model,
                dataset,
                loader_cfg: dict,
                temperature: float,
                seed: int,
                banked: bool = False,
                with_student: bool = False,
                progress: bool = True,
                scope: str = 'mmpretrain') -> Dict[str, np.ndarray]:
    """Teacher (and student) predictions and energies of every sample.

    Args:
        model (EnergyKDDistiller): The distiller, in eval mode.
        dataset: The split's dataset (its pipeline applied).
        loader_cfg (dict): The split's dataloader config (batch size,
            workers, collate function).
        temperature (float): ``T_E`` of the energies.
        seed (int): The run's seed (seeds each sample's transforms).
        banked (bool): Look the teacher's logits up in the attached teacher
            bank (training split of a bank config). Defaults to False.
        with_student (bool): Also the student's top-1. Defaults to False.
        progress (bool): Show a progress bar. Defaults to True.
        scope (str): Registry scope of the config. Defaults to
            ``'mmpretrain'``.

    Returns:
        dict[str, np.ndarray]: ``sample_idx``, ``label`` (-1: none),
        ``energy`` (float32), ``teacher_pred``, ``confidence``, ``margin``,
        ``top3`` / ``top3_prob`` (N, 3), and ``student_pred`` when asked.
    """
    loader = _loader(dataset, loader_cfg, seed, scope)
    bar = ProgressBar(len(dataset)) if progress else None
    parts: Dict[str, list] = {}
    with PreserveRNGState(), torch.no_grad():
        for data in loader:
            out = _batch(model, data, temperature, banked, with_student)
            for key, value in out.items():
                parts.setdefault(key, []).append(value)
            if bar is not None:
                bar.update(len(out['energy']))
    if bar is not None:
        bar.file.write('\n')
    result = {k: torch.cat(v).numpy() for k, v in parts.items()}
    result['sample_idx'] = np.arange(len(result['energy']), dtype=np.int64)
    return result


def sample_images(dataset, indices: List[int], seed: int,
                  to_rgb: bool) -> List[np.ndarray]:
    """The images the teacher saw for ``indices`` (pipeline applied, same
    seeds as :func:`energy_pass`), as ``(H, W, C)`` uint8 RGB arrays.

    Args:
        dataset: The split's dataset.
        indices (list[int]): Dataset indices.
        seed (int): The run's seed.
        to_rgb (bool): The data preprocessor's ``to_rgb`` (inputs are BGR
            then, as ``LoadImageFromFile`` loads them).

    Returns:
        list[np.ndarray]: One image per index.
    """
    seeded = SeededSamples(dataset, seed)
    images = []
    with PreserveRNGState():
        for idx in indices:
            inputs = seeded[int(idx)]['inputs']
            if isinstance(inputs, (list, tuple)):
                inputs = inputs[0]
            image = np.asarray(inputs).transpose(1, 2, 0)
            if to_rgb and image.shape[-1] == 3:
                image = image[..., ::-1]
            images.append(np.ascontiguousarray(image).astype(np.uint8))
    return images
