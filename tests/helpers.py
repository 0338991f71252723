# Copyright (c) mmenergykd contributors. All rights reserved.
"""Local fixtures for tests: tiny ImageNet-layout data, teacher checkpoints.

Nothing here downloads anything.
"""
import os
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.config import Config
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO, 'configs')


def make_imagenet_folder(root: str,
                         num_train: int = 4,
                         num_val: int = 2,
                         classes: int = 3,
                         size: int = 40,
                         seed: int = 0) -> str:
    """Write JPEGs in ImageNet's folder layout with ``meta/{split}.txt``.

    Labels are indices into the 1000 ImageNet classes (0 .. classes - 1).
    """
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    for split, num in (('train', num_train), ('val', num_val)):
        lines = []
        for i in range(num):
            label = i % classes
            rel = f'n{label:08d}/img_{i}.JPEG'
            path = osp.join(root, split, rel)
            os.makedirs(osp.dirname(path), exist_ok=True)
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(path, format='JPEG')
            lines.append(f'{rel} {label}')
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return root


def unique_experiment_name(work_dir: str) -> str:
    """A Runner experiment name no other Runner of this process uses.

    MMEngine names a Runner's message hub (its logged history) after the
    experiment name, by default the config name plus a timestamp in whole
    seconds: two Runners started within the same second would share one
    history.
    """
    import uuid
    return f'{osp.basename(osp.normpath(work_dir))}_{uuid.uuid4().hex[:8]}'


def save_openmmlab_checkpoint(model: torch.nn.Module, path: str) -> str:
    """Save ``model`` as ``{'meta': ..., 'state_dict': ...}``."""
    torch.save(
        dict(meta=dict(note='test checkpoint'), state_dict=model.state_dict()),
        path)
    return path


def build_model(cfg: dict) -> torch.nn.Module:
    """Build an MMPretrain model from a dict (scope mmpretrain)."""
    from mmengine.registry import DefaultScope

    from mmenergykd.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


def save_teacher_for(config: Config, path: str, seed: int = 0) -> str:
    """Build the config's teacher with random weights and save it locally."""
    from mmenergykd.models.utils import resolve_model_cfg
    torch.manual_seed(seed)
    teacher = build_model(resolve_model_cfg(config.model.teacher, 'teacher'))
    teacher.init_weights()
    return save_openmmlab_checkpoint(teacher, path)


def tiny_imagenet_cfg(config_path: str,
                      work_dir: str,
                      data_root: str,
                      teacher_ckpt: str,
                      crop: int = 32,
                      batch_size: int = 2,
                      max_epochs: int = 1,
                      extra: Optional[Dict] = None) -> Config:
    """A repo config set up for a 2-iteration run on tiny local data."""
    cfg = Config.fromfile(config_path)
    cfg.work_dir = work_dir
    cfg.model.teacher_ckpt = teacher_ckpt
    cfg.train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.batch_size = batch_size
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset.data_root = data_root
        pipeline: List[dict] = loader.dataset.pipeline
        for t in pipeline:
            if t['type'] == 'RandomResizedCrop':
                t['scale'] = crop
            if t['type'] == 'ResizeEdge':
                t['scale'] = crop
            if t['type'] == 'CenterCrop':
                t['crop_size'] = crop
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.log_level = 'WARNING'
    cfg.randomness = dict(seed=0, deterministic=False)
    cfg.experiment_name = unique_experiment_name(work_dir)
    if extra:
        cfg.merge_from_dict(extra)
    return cfg


def tiny_classifier(num_classes: int = 5,
                    base: int = 8,
                    depth: int = 18) -> dict:
    """A small ResNet ``ImageClassifier`` dict (fast on CPU)."""
    return dict(
        type='ImageClassifier',
        backbone=dict(
            type='ResNet',
            depth=depth,
            stem_channels=base,
            base_channels=base,
            out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=num_classes,
            in_channels=base * 8,
            loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))


def tiny_distiller_cfg(teacher_ckpt: Optional[str],
                       num_classes: int = 5,
                       distill_losses: Optional[dict] = None,
                       **kwargs) -> dict:
    """An ``EnergyKDDistiller`` dict with tiny teacher and student.

    ``teacher_ckpt=None`` gives a random teacher (``teacher_settings``
    ``allow_random``).
    """
    if teacher_ckpt is None:
        kwargs['teacher_settings'] = {
            'allow_random': True,
            **kwargs.get('teacher_settings', {})
        }
    return dict(
        type='EnergyKDDistiller',
        student=tiny_classifier(num_classes, base=4),
        teacher=tiny_classifier(num_classes, base=8),
        teacher_ckpt=teacher_ckpt,
        distill_losses=distill_losses if distill_losses is not None else dict(
            loss_energykd=dict(type='EnergyKDLoss', loss_weight=1.0)),
        data_preprocessor=dict(
            type='mmpretrain.ClsDataPreprocessor',
            num_classes=num_classes,
            mean=[127.5] * 3,
            std=[127.5] * 3),
        **kwargs)


def save_tiny_teacher(path: str, num_classes: int = 5, seed: int = 0) -> str:
    """Save a random tiny teacher in the OpenMMLab checkpoint layout."""
    torch.manual_seed(seed)
    teacher = build_model(tiny_classifier(num_classes, base=8))
    teacher.init_weights()
    return save_openmmlab_checkpoint(teacher, path)


def random_batch(num: int = 6,
                 num_classes: int = 5,
                 size: int = 16,
                 seed: int = 0) -> dict:
    """A batch as a dataloader yields it (uint8 images, DataSamples)."""
    from mmpretrain.structures import DataSample
    gen = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(
            0, 256, (3, size, size), generator=gen, dtype=torch.uint8)
        for _ in range(num)
    ]
    samples = []
    for i in range(num):
        sample = DataSample(metainfo=dict(sample_idx=i))
        samples.append(sample.set_gt_label(int(i % num_classes)))
    return dict(inputs=inputs, data_samples=samples)


def tiny_runner_cfg(work_dir: str,
                    data_root: str,
                    teacher_ckpt: Optional[str],
                    distill_losses: Optional[dict] = None,
                    custom_hooks: Optional[list] = None,
                    max_epochs: int = 1,
                    batch_size: int = 4,
                    shuffle: bool = False,
                    augment: bool = False,
                    seed: int = 0,
                    **model_kwargs) -> Config:
    """A full Runner config: tiny distiller on tiny ImageNet-layout data."""
    model = tiny_distiller_cfg(
        teacher_ckpt, distill_losses=distill_losses, **model_kwargs)
    preprocessor = model.pop('data_preprocessor')
    train_pipeline = [dict(type='LoadImageFromFile')]
    if augment:
        train_pipeline += [
            dict(type='RandomResizedCrop', scale=16),
            dict(type='RandomFlip', prob=0.5, direction='horizontal')
        ]
    else:
        train_pipeline += [dict(type='Resize', scale=(16, 16))]
    train_pipeline.append(dict(type='PackInputs'))
    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(16, 16)),
        dict(type='PackInputs')
    ]

    def loader(split: str, pipeline: list, shuffle_: bool) -> dict:
        return dict(
            batch_size=batch_size,
            num_workers=0,
            # MMPretrain's tools/train.py (and ours) default it to True,
            # which PyTorch refuses without workers.
            persistent_workers=False,
            dataset=dict(
                type='ImageNet',
                data_root=data_root,
                split=split,
                pipeline=pipeline),
            sampler=dict(type='DefaultSampler', shuffle=shuffle_))

    return Config(
        dict(
            default_scope='mmpretrain',
            custom_imports=dict(
                imports=['mmenergykd'], allow_failed_imports=False),
            work_dir=work_dir,
            model=model,
            data_preprocessor=preprocessor,
            train_dataloader=loader('train', train_pipeline, shuffle),
            val_dataloader=loader('val', test_pipeline, False),
            val_evaluator=dict(type='Accuracy', topk=(1, )),
            test_dataloader=loader('val', test_pipeline, False),
            test_evaluator=dict(type='Accuracy', topk=(1, )),
            optim_wrapper=dict(
                optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
            train_cfg=dict(
                by_epoch=True, max_epochs=max_epochs, val_interval=1),
            val_cfg=dict(),
            test_cfg=dict(),
            custom_hooks=custom_hooks or [],
            default_hooks=dict(
                logger=dict(type='LoggerHook', interval=1),
                checkpoint=dict(type='CheckpointHook', interval=1)),
            env_cfg=dict(dist_cfg=dict(backend='gloo')),
            randomness=dict(seed=seed, deterministic=False),
            experiment_name=unique_experiment_name(work_dir),
            log_level='WARNING'))


def make_cifar100_folder(root: str,
                         train_per_class: int = 1,
                         test_per_class: int = 1,
                         seed: int = 0) -> str:
    """Write tiny CIFAR-100 python-version files (no download, no md5)."""
    import pickle
    rng = np.random.default_rng(seed)
    folder = osp.join(root, 'cifar-100-python')
    os.makedirs(folder, exist_ok=True)
    for split, per_class in (('train', train_per_class), ('test',
                                                          test_per_class)):
        labels = np.repeat(np.arange(100), per_class)
        data = rng.integers(0, 256, (len(labels), 3 * 32 * 32), dtype=np.uint8)
        entry = dict(
            filenames=[f'{split}_{i}.png' for i in range(len(labels))],
            fine_labels=labels.tolist(),
            coarse_labels=(labels // 5).tolist(),
            data=data)
        with open(osp.join(folder, split), 'wb') as f:
            pickle.dump(entry, f)
    with open(osp.join(folder, 'meta'), 'wb') as f:
        pickle.dump(
            dict(
                fine_label_names=[f'c{i}' for i in range(100)],
                coarse_label_names=[f'g{i}' for i in range(20)]), f)
    return root
