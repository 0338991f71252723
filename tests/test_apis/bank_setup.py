# Copyright (c) mmenergykd contributors. All rights reserved.
"""A tiny bank config (12 CIFAR-100-layout images, a random CifarResNet
teacher) and a damaged copy of a bank, for the teacher-bank tests."""
import os.path as osp
import shutil

import torch
from mmengine.config import Config

from mmenergykd.apis import build_teacher_bank
from tests.helpers import (build_model, make_cifar100_folder,
                           save_openmmlab_checkpoint)

NUM_SAMPLES = 12
CHUNK = 5  # chunks: samples 0..4, 5..9, 10..11
TEACHER = dict(
    type='ImageClassifier',
    backbone=dict(type='CifarResNet', arch=dict(depth=8, widths=(4, 4, 8, 8))),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=8,
        loss=dict(type='CrossEntropyLoss')))
PIPELINE = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
PREPROCESSOR = dict(
    type='mmpretrain.ClsDataPreprocessor',
    num_classes=100,
    mean=[129.3, 124.1, 112.4],
    std=[68.2, 65.4, 70.4],
    to_rgb=False)


def save_teacher(path: str, seed: int) -> str:
    """A random teacher with non-trivial BatchNorm statistics (so that
    eval-mode BatchNorm is exercised)."""
    torch.manual_seed(seed)
    teacher = build_model(TEACHER)
    teacher.init_weights()
    for module in teacher.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    return save_openmmlab_checkpoint(teacher, path)


def bank_config(root: str, data: str, ckpt: str, name: str = 'cfg') -> str:
    """A distillation config file for the tiny data and ``ckpt``."""
    cfg = Config(
        dict(
            default_scope='mmpretrain',
            custom_imports=dict(imports=['mmenergykd']),
            model=dict(
                type='EnergyKDDistiller',
                student=TEACHER,
                teacher=TEACHER,
                teacher_ckpt=ckpt,
                distill_losses=dict()),
            data_preprocessor=PREPROCESSOR,
            train_dataloader=dict(
                batch_size=4,
                dataset=dict(
                    # tiny files: no md5 check, never a download
                    type='CIFAR100LT',
                    check_md5=False,
                    imb_factor=1,
                    data_root=data,
                    split='train',
                    indices=NUM_SAMPLES,
                    pipeline=PIPELINE))))
    path = osp.join(root, f'{name}.py')
    cfg.dump(path)
    return path


def make_setup(root: str) -> dict:
    """Data, two teachers and their configs under ``root``."""
    data = make_cifar100_folder(osp.join(root, 'cifar'), train_per_class=1)
    ckpt = save_teacher(osp.join(root, 'teacher.pth'), seed=0)
    other = save_teacher(osp.join(root, 'other.pth'), seed=1)
    return dict(
        root=root,
        config=bank_config(root, data, ckpt),
        other_config=bank_config(root, data, other, 'other_cfg'))


def build(config: str, out: str, **settings) -> str:
    """The bank of ``config`` at ``out`` (fp32, chunks of 5, one thread)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return build_teacher_bank(
            config, out,
            **dict(
                dict(
                    dtype='fp32',
                    chunk_size=CHUNK,
                    batch_size=256,
                    device='cpu'), **settings))
    finally:
        torch.set_num_threads(old)


def damaged_copy(bank: str,
                 out: str,
                 offset: int,
                 size: int = 16,
                 mask: int = 0xFF,
                 file: str = 'logits.bin') -> str:
    """A copy of ``bank`` whose ``file`` has the ``size`` bytes at
    ``offset`` XOR-ed with ``mask`` (the file's size kept)."""
    shutil.copytree(bank, out)
    path = osp.join(out, file)
    with open(path, 'r+b') as f:
        f.seek(offset)
        data = f.read(size)
        f.seek(offset)
        f.write(bytes(b ^ mask for b in data))
    assert osp.getsize(path) == osp.getsize(osp.join(bank, file))
    return out
