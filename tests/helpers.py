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


def save_openmmlab_checkpoint(model: torch.nn.Module, path: str) -> str:
    """Save ``model`` as ``{'meta': ..., 'state_dict': ...}``."""
    torch.save(dict(meta=dict(note='test checkpoint'),
                    state_dict=model.state_dict()), path)
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
    if extra:
        cfg.merge_from_dict(extra)
    return cfg
