# Copyright (c) mmenergykd contributors. All rights reserved.
"""The parts of a teacher-bank build: the config's training set with the
view-recording pipeline, the frozen teacher behind the distiller's
preprocessing, the (sample, view) batches and the writing of one chunk."""
import copy
import dataclasses
import os.path as osp
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from mmenergykd.datasets.transforms import (REPLAY_KEY, ViewRandomCrop,
                                            ViewRandomFlip,
                                            ViewRandomResizedCrop,
                                            recording_pipeline)
from mmenergykd.models.distillers import FrozenTeacher
from mmenergykd.models.teacher_bank import (DTYPES, BankWriter,
                                            data_preprocessor_of,
                                            expect_from_config,
                                            teacher_checkpoint_of)
from mmenergykd.models.utils import build_teacher_input
from mmenergykd.registry import DATASETS, MODELS

__all__ = [
    'BankBuildSettings', 'load_config', 'build_dataset', 'num_views_of',
    'build_teacher', 'view_batches', 'run_chunk', 'make_header', 'probe'
]

VIEW_CLASSES = (ViewRandomCrop, ViewRandomFlip, ViewRandomResizedCrop)


@dataclasses.dataclass
class BankBuildSettings:
    """What ``tools/build_teacher_bank.py`` is asked to build (its flags).

    Args:
        config (str): The distillation config file.
        out (str): The bank directory.
        dtype (str): ``'fp16'`` or ``'fp32'``.
        batch_size (int): Views per teacher forward.
        chunk_size (int): Samples per chunk (the unit of progress, resume
            and checksums).
        workers (int): Local worker processes, each writing its own chunks.
        resume (bool): Finish an interrupted build, or check a finished
            bank and rebuild only its chunks that fail their checksums.
        device (str, optional): Default: cuda if available, else cpu.
        sampled_crops (int, optional): A sampled bank with K fixed
            ``RandomResizedCrop`` crops per image (x the flips).
        view_seed (int): The seed of a sampled bank's crops.
        topk (int): Logits a sampled bank keeps per view.
        energy_temperature (float): T_E of a sampled bank's log-sum-exp.
        kl_temperatures (Sequence[float]): Where the top-k reconstruction
            error (KL) is measured.
        cfg_options (dict, optional): Overrides of the config (as
            ``--cfg-options`` gives them).
    """
    config: str
    out: str
    dtype: str = 'fp16'
    batch_size: int = 256
    chunk_size: int = 64
    workers: int = 1
    resume: bool = False
    device: Optional[str] = None
    sampled_crops: Optional[int] = None
    view_seed: int = 0
    topk: int = 10
    energy_temperature: float = 4.0
    kl_temperatures: Sequence[float] = (1.0, 4.0)
    cfg_options: Optional[Dict] = None

    def __post_init__(self) -> None:
        for name in ('batch_size', 'chunk_size', 'workers', 'sampled_crops'):
            value = getattr(self, name)
            if value is not None and int(value) < 1:
                raise ValueError(
                    f"--{name.replace('_', '-')} must be >= 1, got {value}.")
        if self.dtype not in DTYPES:
            raise ValueError(f'--dtype must be one of {sorted(DTYPES)}, got '
                             f'{self.dtype!r}.')


def load_config(settings: BankBuildSettings) -> Config:
    """The config with ``cfg_options`` merged."""
    cfg = Config.fromfile(settings.config)
    if settings.cfg_options:
        cfg.merge_from_dict(dict(settings.cfg_options))
    return cfg


def build_dataset(cfg: Config, settings: BankBuildSettings):
    """The training dataset with the view-recording pipeline."""
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.pipeline = recording_pipeline(
        dataset_cfg.get('pipeline', []), settings.sampled_crops,
        settings.view_seed)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(dataset_cfg)
    if not hasattr(dataset, 'get_data_info') or not hasattr(
            dataset, 'pipeline'):
        raise TypeError(
            f'train_dataloader.dataset is a {type(dataset).__name__}; a '
            'teacher bank needs a plain dataset (not a wrapper) whose '
            'sample_idx is its index.')
    dataset.full_init()
    return dataset


def num_views_of(dataset) -> int:
    """The number of views of sample 0 (every sample is checked later)."""
    packed = dataset.pipeline(dataset.get_data_info(0))
    return int(packed['data_samples'].metainfo.get('teacher_num_views', 1))


def build_teacher(cfg: Config,
                  device: str) -> Callable[[List[dict]], torch.Tensor]:
    """``fn(list of packed samples) -> (B, C) logits``: the distiller's
    preprocessing, the teacher's own input made from it (as the distiller
    makes it) and the frozen teacher."""
    teacher = FrozenTeacher.build(
        cfg.model.teacher,
        teacher_checkpoint_of(cfg.model),
        channels_last=cfg.model.get('channels_last', False),
        inference_mode=True).to(device)
    preprocessor_cfg = data_preprocessor_of(cfg)
    if preprocessor_cfg.get('batch_augments'):
        raise ValueError(
            'The data preprocessor has batch_augments (Mixup / CutMix): '
            'their mixed images are new images, which a teacher bank cannot '
            'hold. Remove them or train with the live teacher.')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        preprocessor = MODELS.build(preprocessor_cfg).to(device)
    teacher_input = build_teacher_input(cfg.model.teacher, preprocessor,
                                        cfg.model.get('teacher_input_size'))

    def forward(packed: List[dict]) -> torch.Tensor:
        data = preprocessor(pseudo_collate(packed), False)
        return teacher.logits(teacher_input(data['inputs']))

    return forward


def _apply(transforms: Sequence[Callable], results: dict) -> dict:
    for transform in transforms:
        results = transform(results)
        if results is None:
            raise ValueError(f'{transform!r} dropped a training sample; a '
                             'teacher bank needs every sample.')
    return results


def view_batches(dataset, samples: range, num_views: int, batch_size: int):
    """Packed samples for every (sample, view), ``batch_size`` at a time.

    The deterministic transforms before the first view transform (loading,
    decoding) run once per sample, the rest once per view.
    """
    transforms = list(dataset.pipeline.transforms)
    first = next(
        (i for i, t in enumerate(transforms) if isinstance(t, VIEW_CLASSES)),
        len(transforms))
    batch = []
    for idx in samples:
        base = _apply(transforms[:first], dataset.get_data_info(idx))
        for view in range(num_views):
            results = copy.copy(base)
            results[REPLAY_KEY] = view
            packed = _apply(transforms[first:], results)
            meta = packed['data_samples'].metainfo
            if meta.get('teacher_view') != view or meta.get(
                    'teacher_num_views', 1) != num_views:
                raise ValueError(
                    f'Sample {idx} has {meta.get("teacher_num_views", 1)} '
                    f'views, sample 0 has {num_views}: an exact bank needs '
                    'every image at one size before the random crop.')
            batch.append(packed)
            if len(batch) == batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def run_chunk(dataset, forward: Callable, writer: BankWriter, chunk: int,
              batch_size: int) -> None:
    """Compute and write the teacher's outputs of every view of ``chunk``."""
    rows = writer.chunk_range(chunk)
    num_views = writer.shape[1]
    parts: Dict[str, List[np.ndarray]] = {}
    stats: dict = {}
    for batch in view_batches(dataset, rows, num_views, batch_size):
        logits = forward(batch).float().cpu()
        for name, value in writer.encode(logits, stats).items():
            stored = value.astype(writer.layout[name][1])
            if stored.dtype.kind == 'f' and not np.isfinite(stored).all():
                raise ValueError(
                    f'Chunk {chunk}: teacher {name} overflow '
                    f'{stored.dtype.name} (or are NaN); build with --dtype '
                    'fp32.')
            parts.setdefault(name, []).append(stored)
    data = {
        name:
        np.concatenate(value).reshape((len(rows), num_views) +
                                      value[0].shape[1:])
        for name, value in parts.items()
    }
    writer.write_chunk(chunk, data, stats)


def make_header(cfg: Config, dataset, num_views: int, num_classes: int,
                settings: BankBuildSettings) -> dict:
    """The bank's header: what it must match (from the config), its shape
    and settings, and how it was built (``config``, ``cfg_options``)."""
    expect = expect_from_config(cfg, dataset_len=len(dataset))
    header = {k: v for k, v in expect.items() if not k.startswith('_')}
    header.update(
        num_views=num_views,
        num_classes=num_classes,
        dtype=DTYPES[settings.dtype],
        chunk_size=settings.chunk_size,
        kind='exact' if settings.sampled_crops is None else 'sampled',
        config=osp.abspath(settings.config),
        cfg_options=_json_options(settings.cfg_options),
        teacher_checkpoint=teacher_checkpoint_of(cfg.model))
    if settings.sampled_crops is not None:
        if not 1 <= settings.topk < num_classes:
            raise ValueError(f'--topk must be in [1, {num_classes}), got '
                             f'{settings.topk}.')
        header.update(
            num_crops=settings.sampled_crops,
            view_seed=settings.view_seed,
            topk=settings.topk,
            energy_temperature=settings.energy_temperature,
            kl_temperatures=list(settings.kl_temperatures))
    return header


def _json_options(options: Optional[Dict]) -> Dict:
    """``--cfg-options`` as the header keeps them (JSON values)."""
    out = {}
    for key, value in (options or {}).items():
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


def probe(dataset, forward: Callable, num_views: int,
          batch_size: int) -> Tuple[int, float, int]:
    """``(num_classes, seconds per view, batch)`` from one timed batch."""
    tic = time.perf_counter()
    batch = next(
        view_batches(dataset, range(len(dataset)), num_views, batch_size))
    pipeline_time = time.perf_counter() - tic
    num_classes = forward(batch).shape[1]  # warm-up
    times = []
    for _ in range(2):
        tic = time.perf_counter()
        forward(batch)
        times.append(time.perf_counter() - tic)
    return num_classes, (pipeline_time + min(times)) / len(batch), len(batch)
