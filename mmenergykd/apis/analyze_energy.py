# Copyright (c) mmenergykd contributors. All rights reserved.
"""Where the teacher is unsure: the energy split of a config's data.

:func:`analyze_energy` runs the config's teacher (live, or its teacher bank
for the training split of a bank config) once over a split and writes:

- ``energies.csv``: ``sample_idx, label, energy, group, teacher_pred,
  teacher_confidence, teacher_margin`` per sample (energy at the config's
  ``T_E``; confidence and margin from the teacher's softmax at T = 1);
- ``summary.json`` / ``summary.txt``: thresholds and where they come from,
  counts, shares, mean energy and the teacher's (with a checkpoint also the
  student's) top-1 per group, per-class counts;
- ``energy_hist.png``, ``class_shares.png``, ``gallery_{high,mid,low}.png``,
  ``group_accuracy.png``.

The groups follow the rule of training (``E < tau_low`` low, ``E >
tau_high`` high, middle otherwise) with the thresholds stored in
``checkpoint`` when it has them, else the calibration rule
(:func:`~mmenergykd.engine.calibration.calibration_thresholds`) applied to
this split's energies, every sample of it. (Training calibrates on the
training split without the last partial batch of its shuffled epoch-0
order, so its thresholds may differ from the rule over every sample by a
rank or two; with ``checkpoint``, training's own thresholds are used.)
"""
import os
import os.path as osp
import time
from typing import Optional

import torch
from mmengine.registry import DefaultScope

from mmenergykd.datasets import innermost_dataset
from mmenergykd.engine.calibration import calibration_thresholds
from .energy_analysis_data import (analysis_consumer, attach_teacher_bank,
                                   build_analysis_model, build_split_dataset,
                                   load_analysis_config,
                                   load_training_checkpoint)
from .energy_analysis_pass import energy_pass, sample_images
from .energy_analysis_report import (draw_pictures, split_groups, summarize,
                                     write_energies_csv, write_summary)

__all__ = ['analyze_energy']

GROUP_RULE = 'low if energy < tau_low; high if energy > tau_high; else mid'


def _class_names(dataset) -> Optional[list]:
    meta = getattr(innermost_dataset(dataset), 'metainfo', None) or {}
    names = meta.get('classes')
    return [str(n) for n in names] if names else None


def _pipeline_note(split: str, seed: int) -> str:
    if split == 'train':
        return ('training pipeline; each sample\'s random transforms seeded '
                f'from its index and the run\'s seed {seed}, as in the '
                'calibration pass')
    return 'test pipeline (val_dataloader)'


def _thresholds(model, records: dict, checkpoint: Optional[str], stored: bool,
                split: str) -> tuple:
    consumer, _ = analysis_consumer(model)
    if stored:
        return (float(consumer.low_threshold), float(consumer.high_threshold),
                f'stored in {checkpoint}')
    low, high = calibration_thresholds(
        torch.from_numpy(records['energy']), consumer)
    return low, high, (f"the calibration rule on the {len(records['energy'])}"
                       f' energies of the {split} split')


def _teacher_pass(cfg, model, split: str, checkpoint: Optional[str], seed: int,
                  progress: bool, scope: str) -> tuple:
    """The split's dataset and its per-sample records (teacher logits from
    the bank for the training split of a bank config)."""
    consumer, _ = analysis_consumer(model)
    dataset, loader_cfg = build_split_dataset(cfg, split)
    banked = split == 'train' and model.teacher_bank is not None
    source = 'the live teacher'
    if banked:
        bank = attach_teacher_bank(cfg, model, dataset,
                                   consumer.energy_temperature)
        source = f'the teacher bank {bank.path}'
    records = energy_pass(
        model,
        dataset,
        loader_cfg,
        consumer.energy_temperature,
        seed,
        banked=banked,
        with_student=checkpoint is not None,
        progress=progress,
        scope=scope)
    return dataset, records, source


def _settings(cfg, model, split: str, checkpoint: Optional[str], seed: int,
              source: str, thresholds: tuple) -> dict:
    """What the summary records about the run and the split."""
    consumer, consumer_name = analysis_consumer(model)
    low, high, threshold_source = thresholds
    return dict(
        config=getattr(cfg, 'filename', None) or '<Config object>',
        checkpoint=checkpoint,
        split=split,
        pipeline=_pipeline_note(split, seed),
        teacher_source=source,
        teacher_ckpt=model.frozen_teacher.checkpoint,
        consumer=consumer_name,
        energy_temperature=consumer.energy_temperature,
        low_ratio=consumer.low_ratio,
        high_ratio=consumer.high_ratio,
        thresholds=dict(low=low, high=high),
        threshold_source=threshold_source,
        group_rule=GROUP_RULE)


def analyze_energy(config,
                   out_dir: str,
                   checkpoint: Optional[str] = None,
                   split: str = 'train',
                   device: Optional[str] = None,
                   gallery_size: int = 16,
                   progress: bool = True,
                   cfg_options: Optional[dict] = None) -> dict:
    """Analyse the teacher's energy split of a config's data.

    Args:
        config (str | Config): A distillation config (an
            ``EnergyKDDistiller`` model).
        out_dir (str): Where the CSV, summaries and pictures go.
        checkpoint (str, optional): A training checkpoint of the config:
            its thresholds split the data and its student is evaluated per
            group. Refused when trained with another teacher.
        split (str): ``'train'`` (training pipeline, seeded as
            calibration) or ``'val'`` (test pipeline). Defaults to
            ``'train'``.
        device (str, optional): Defaults to ``'cuda'`` when available.
        gallery_size (int): Images per gallery. Defaults to 16.
        progress (bool): Show a progress bar. Defaults to True.
        cfg_options (dict, optional): Config overrides.

    Returns:
        dict: The summary written to ``summary.json`` (plus ``files`` and
        ``seconds``).
    """
    start = time.perf_counter()
    cfg = load_analysis_config(config, cfg_options)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    scope = cfg.get('default_scope', None) or 'mmpretrain'
    seed = int((cfg.get('randomness') or {}).get('seed') or 0)
    with DefaultScope.overwrite_default_scope(scope):
        model = build_analysis_model(cfg, device)
        stored = load_training_checkpoint(model, checkpoint) \
            if checkpoint else False
        dataset, records, source = _teacher_pass(cfg, model, split, checkpoint,
                                                 seed, progress, scope)
        thresholds = _thresholds(model, records, checkpoint, stored, split)
        groups = split_groups(records['energy'], *thresholds[:2])
        names = _class_names(dataset)
        summary = summarize(
            records, groups, names,
            _settings(cfg, model, split, checkpoint, seed, source, thresholds))
        os.makedirs(out_dir, exist_ok=True)
        files = [
            write_energies_csv(
                osp.join(out_dir, 'energies.csv'), records, groups)
        ]
        to_rgb = bool(getattr(model.data_preprocessor, 'to_rgb', False))
        files += draw_pictures(
            out_dir, records, groups, summary, names,
            lambda idx: sample_images(dataset, idx, seed, to_rgb),
            gallery_size)
    summary['seconds'] = round(time.perf_counter() - start, 2)
    summary['files'] = sorted(
        osp.basename(f) for f in files + ['summary.json', 'summary.txt'])
    write_summary(out_dir, summary)
    return summary
