# Copyright (c) mmenergykd contributors. All rights reserved.
"""The digits benchmark's teacher: trained (or loaded) once, its energies,
and its bank for the distillation runs."""
import argparse
import os.path as osp
from typing import Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config

from .bank import bank_supported, build_bank
from .runs import (build_cfg, dataset_labels, describe_model, param_count,
                   predict_logits, run_one)
from .settings import (CONFIG_DIR, METHODS, TEACHER_CONFIG, imbalance, log,
                       run_kind)


def _load_teacher(teacher_cfg: Config, path: str,
                  val_data: dict) -> Tuple[torch.nn.Module, dict]:
    """A trained teacher from ``--teacher-ckpt`` and its val top-1."""
    from mmenergykd.models.distillers import FrozenTeacher
    log(f'Teacher: using {path} (not trained here)')
    model = FrozenTeacher.build(
        dict(
            teacher_cfg.model,
            data_preprocessor=dict(
                type='ClsDataPreprocessor', **teacher_cfg.data_preprocessor)),
        path).model
    val_logits = predict_logits(model, val_data)
    val_y = dataset_labels(val_data)
    acc = float((val_logits.argmax(1).numpy() == val_y).mean() * 100)
    return model, dict(
        best=acc,
        last=acc,
        best_epoch=None,
        curve=[acc],
        seconds=0.0,
        checkpoint=path,
        trained=False)


def _train_teacher(teacher_cfg: Config, epochs: int, work_dir: str,
                   kind: str) -> Tuple[torch.nn.Module, dict]:
    """Train the teacher (``TEACHER_CONFIG``) and save it in the work dir,
    with the run's ``kind`` in its meta; the teacher of a full run (the
    teacher config's own recipe) is also stored where the digits configs
    look for it."""
    from mmenergykd.utils.digits_teacher import (RUN_KIND_KEY,
                                                 digits_teacher_path,
                                                 publish_digits_teacher)
    log(f'Teacher: training for {epochs} epochs (seed 0)')
    out = run_one(teacher_cfg, 'teacher', epochs)
    model = out.pop('runner').model
    path = osp.join(work_dir, 'teacher', 'teacher.pth')
    meta = dict(
        note='digits benchmark teacher',
        config=f'configs/{TEACHER_CONFIG}',
        epochs=epochs,
        val_top1=out['last'])
    meta[RUN_KIND_KEY] = kind
    torch.save(dict(meta=meta, state_dict=model.state_dict()), path)
    log(f"Teacher: val top-1 {out['last']:.2f} (best {out['best']:.2f} "
        f"at epoch {out['best_epoch']}), {out['seconds']:.0f} s, saved "
        f'{path}')
    if kind == 'full':
        log('Teacher: stored for the digits configs as '
            f'{publish_digits_teacher(path)}')
    else:
        log(f'Teacher: a {kind} run\'s teacher stays in this work dir; the '
            f'digits configs keep theirs ({digits_teacher_path()})')
    return model, dict(
        out,
        checkpoint=path,
        trained=True,
        run_kind=kind,
        published=kind == 'full')


def _teacher_energies(model: torch.nn.Module, temperature: float,
                      train_data: dict, val_data: dict) -> dict:
    """The teacher's energies on the training images (as they are and
    through the training transforms, one pass with fixed crops, as the
    calibration pass sees them) and on the held-out images, and the class
    count of the training split."""
    from mmenergykd.models.energy import energy_score
    base = Config.fromfile(osp.join(CONFIG_DIR, METHODS['energykd'][0]))
    train_eval_data = dict(train_data, pipeline=base.test_pipeline)
    train_logits = predict_logits(model, train_eval_data)
    val_logits = predict_logits(model, val_data)
    with torch.random.fork_rng():
        state = np.random.get_state()
        np.random.seed(0)
        aug_logits = predict_logits(model, train_data)
        np.random.set_state(state)
    val_y = dataset_labels(val_data)
    train_y = dataset_labels(train_data)
    return dict(
        train_class_counts=np.bincount(
            train_y,
            minlength=int(base.data_preprocessor.num_classes)).tolist(),
        train=energy_score(train_logits, temperature).numpy(),
        aug=energy_score(aug_logits, temperature).numpy(),
        val=energy_score(val_logits, temperature).numpy(),
        val_y=val_y,
        teacher_val_correct=val_logits.argmax(1).numpy() == val_y)


def teacher_phase(args: argparse.Namespace, work_dir: str, stamp: str,
                  temperature: float) -> Tuple[dict, dict]:
    """Train (or load) the teacher; returns its record and its energies."""
    teacher_cfg = build_cfg(
        TEACHER_CONFIG,
        osp.join(work_dir, 'teacher'),
        seed=0,
        epochs=args.teacher_epochs,
        teacher_ckpt=None,
        verbose=args.verbose,
        name=f'teacher_{stamp}',
        imbalance_ratio=imbalance(args),
        # evaluated once, at the end: 60 evaluations of the teacher cost
        # 30 % of its training, and only its final weights are used
        val_interval=args.teacher_epochs,
        plain=args.plain)
    # the teacher's own held-out images (its size, its normalisation)
    val_data = teacher_cfg.val_dataloader.dataset.to_dict()
    if args.teacher_ckpt:
        model, teacher = _load_teacher(teacher_cfg,
                                       osp.abspath(args.teacher_ckpt),
                                       val_data)
    else:
        model, teacher = _train_teacher(teacher_cfg, args.teacher_epochs,
                                        work_dir, run_kind(args))
    teacher['params'] = param_count(teacher_cfg.model)
    teacher['model'] = describe_model(teacher_cfg.model)
    return teacher, _teacher_energies(
        model, temperature, teacher_cfg.train_dataloader.dataset.to_dict(),
        val_data)


def teacher_bank(args: argparse.Namespace, work_dir: str, teacher_ckpt: str,
                 stamp: str) -> Optional[str]:
    """The teacher bank of the distillation runs (None: live teacher)."""
    if args.no_bank:
        flag = '--plain' if args.plain else '--no-bank'
        log(f'Teacher bank: off ({flag}): the live teacher runs in every '
            'step')
        return None
    if not bank_supported():
        log('Teacher bank: this EnergyKDDistiller has no `teacher_bank`; '
            'the live teacher runs in every step')
        return None
    cfg = build_cfg(
        METHODS['kd'][0],
        osp.join(work_dir, 'teacher'),
        seed=0,
        epochs=args.epochs,
        teacher_ckpt=teacher_ckpt,
        verbose=args.verbose,
        name=f'bank_{stamp}',
        imbalance_ratio=imbalance(args))
    return build_bank(cfg, work_dir)
