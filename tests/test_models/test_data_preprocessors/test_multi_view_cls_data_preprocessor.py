# Copyright (c) mmenergykd contributors. All rights reserved.
"""The two-view (MLKD) data path: the config bases' real MMPretrain
transforms on real image files, through ``MultiViewClsDataPreprocessor``."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.registry import init_default_scope

from mmenergykd.models import MultiViewClsDataPreprocessor
from mmenergykd.registry import DATASETS, MODELS, TRANSFORMS
from tests.helpers import CONFIGS, make_cifar100_folder, make_imagenet_folder

CIFAR_BASE = osp.join(CONFIGS, '_base_', 'datasets', 'cifar100_mlkd_bs64.py')
IMAGENET_BASE = osp.join(CONFIGS, '_base_', 'datasets',
                         'imagenet_mlkd_bs32.py')


@pytest.fixture(scope='module')
def cifar(tmp_path_factory):
    init_default_scope('mmpretrain')
    root = make_cifar100_folder(
        str(tmp_path_factory.mktemp('cifar')), train_per_class=1)
    cfg = Config.fromfile(CIFAR_BASE)
    datasets = {}
    for split in ('train', 'val'):
        dataset_cfg = copy.deepcopy(cfg[f'{split}_dataloader'].dataset)
        # tiny generated files: no md5 check, no download
        dataset_cfg.update(
            type='CIFAR100LT', data_root=root, check_md5=False, imb_factor=1)
        datasets[split] = DATASETS.build(dataset_cfg)
    return cfg, datasets


def _normalise(img, cfg, to_rgb=False):
    mean = torch.tensor(cfg.mean).view(-1, 1, 1)
    std = torch.tensor(cfg.std).view(-1, 1, 1)
    img = img.flip(0) if to_rgb else img
    return (img.float() - mean) / std


def test_cifar_two_view_batch(cifar):
    cfg, datasets = cifar
    np.random.seed(0)
    samples = [datasets['train'][i] for i in range(6)]
    for sample in samples:  # PackInputs keeps the MultiView list
        assert isinstance(sample['inputs'], list)
        assert [v.shape for v in sample['inputs']] == [(3, 32, 32)] * 2
    preprocessor = MODELS.build(cfg.data_preprocessor)
    assert isinstance(preprocessor, MultiViewClsDataPreprocessor)

    out = preprocessor(pseudo_collate(samples), training=True)
    weak, strong = out['inputs']
    assert isinstance(out['inputs'], list)
    assert weak.shape == strong.shape == (6, 3, 32, 32)
    assert weak.dtype == strong.dtype == torch.float32
    for i, sample in enumerate(samples):
        torch.testing.assert_close(
            weak[i], _normalise(sample['inputs'][0], cfg.data_preprocessor))
        torch.testing.assert_close(
            strong[i], _normalise(sample['inputs'][1], cfg.data_preprocessor))
    # one data sample per image, not per view, with its label
    assert len(out['data_samples']) == 6
    labels = [int(s.gt_label) for s in out['data_samples']]
    assert labels == [
        int(datasets['train'].get_gt_labels()[i]) for i in range(6)
    ]
    # the strong view is a different image (RandAugment + Cutout)
    assert not torch.equal(weak, strong)

    # default_collate gives per-view tensors: the same result
    again = preprocessor(default_collate(samples), training=True)
    for a, b in zip(again['inputs'], out['inputs']):
        assert torch.equal(a, b)
    # a calibration pass (training=False) also gets both views
    eval_out = preprocessor(pseudo_collate(samples), training=False)
    assert len(eval_out['inputs']) == 2


def test_cifar_single_view_batch_is_a_tensor(cifar):
    cfg, datasets = cifar
    samples = [datasets['val'][i] for i in range(4)]
    preprocessor = MODELS.build(cfg.data_preprocessor)
    reference = MODELS.build(
        dict(cfg.data_preprocessor, type='ClsDataPreprocessor'))
    out = preprocessor(pseudo_collate(samples), training=False)
    expected = reference(pseudo_collate(samples), training=False)
    assert isinstance(out['inputs'], torch.Tensor)
    assert out['inputs'].shape == (4, 3, 32, 32)
    assert torch.equal(out['inputs'], expected['inputs'])
    assert len(out['data_samples']) == 4


def test_imagenet_two_view_batch(tmp_path):
    init_default_scope('mmpretrain')
    root = make_imagenet_folder(str(tmp_path / 'imagenet'), size=64)
    cfg = Config.fromfile(IMAGENET_BASE)
    dataset = DATASETS.build(
        dict(cfg.train_dataloader.dataset, data_root=root))
    np.random.seed(1)
    samples = [dataset[i] for i in range(2)]
    out = MODELS.build(cfg.data_preprocessor)(
        pseudo_collate(samples), training=True)
    weak, strong = out['inputs']
    assert weak.shape == strong.shape == (2, 3, 224, 224)
    torch.testing.assert_close(
        weak[0],
        _normalise(samples[0]['inputs'][0], cfg.data_preprocessor, True))
    assert len(out['data_samples']) == 2
    val = DATASETS.build(dict(cfg.val_dataloader.dataset, data_root=root))
    single = MODELS.build(cfg.data_preprocessor)(
        pseudo_collate([val[0]]), training=False)
    assert single['inputs'].shape == (1, 3, 224, 224)


def _scene(size=32):
    """A small image with structure: gradients and a bright square."""
    y, x = np.mgrid[0:size, 0:size]
    img = np.stack([x * 5 + 20, y * 4 + 30, (x + y) * 2 + 40], -1)
    img[size // 4:size // 2, size // 4:size // 2] = (240, 200, 180)
    return img.astype(np.uint8)


def test_strong_augment_policies_follow_the_recipe():
    cfg = Config.fromfile(CIFAR_BASE)
    rand_augment = cfg.mlkd_rand_augment
    transform = TRANSFORMS.build(rand_augment)
    assert transform.num_policies == 2 and len(transform.policies) == 14
    img = _scene()
    np.random.seed(2)
    by_type = {}
    for policy, op in zip(transform.policies, transform.transforms):
        outs = [op(dict(img=img.copy()))['img'] for _ in range(20)]
        assert all(o.shape == img.shape and o.dtype == np.uint8 for o in outs)
        by_type.setdefault(policy['type'], []).append((policy, outs))
    # the identity: an AutoContrast that never fires
    identity = [
        outs for p, outs in by_type['AutoContrast'] if p['prob'] == 0.0
    ][0]
    assert all(np.array_equal(o, img) for o in identity)
    # enhance factors in [0.05, 0.95]: brightness always goes down
    for _, outs in by_type['Brightness']:
        means = [o.mean() for o in outs]
        assert max(means) < img.mean() * 0.96
        assert min(means) > img.mean() * 0.04
        assert len(set(means)) > 10  # a fresh magnitude each call
    # every other operation changes the image at least once in 20 draws
    for name, entries in by_type.items():
        for policy, outs in entries:
            if policy.get('prob') != 0.0:
                assert any(not np.array_equal(o, img) for o in outs), name


def test_cutout_size_up_to_half_the_side():
    cfg = Config.fromfile(CIFAR_BASE)
    cutout = TRANSFORMS.build(cfg.mlkd_cutout)
    np.random.seed(3)
    sides = []
    for _ in range(200):
        out = cutout(dict(img=np.zeros((32, 32, 3), np.uint8)))['img']
        filled = np.all(out == (125, 123, 114), axis=-1)
        rows, cols = filled.any(1).sum(), filled.any(0).sum()
        assert filled.sum() == rows * cols  # one axis-aligned rectangle
        sides.append(max(rows, cols))
    assert max(sides) <= 16 and min(sides) >= 1
    assert max(sides) >= 14 and len(set(sides)) > 8


def test_errors():
    preprocessor = MultiViewClsDataPreprocessor(
        mean=[0, 0, 0],
        std=[1, 1, 1],
        num_classes=4,
        batch_augments=dict(augments=dict(type='Mixup', alpha=1.0)))
    view = torch.zeros(3, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match='batch_augments'):
        preprocessor(dict(inputs=[[view, view], [view, view]]), True)
    plain = MultiViewClsDataPreprocessor()
    with pytest.raises(ValueError, match='same number'):
        plain(dict(inputs=[[view, view], [view]]))
    with pytest.raises(ValueError, match='same number'):
        plain(dict(inputs=[[view, view], view]))
    with pytest.raises(ValueError, match='same shape'):
        plain(dict(inputs=[[view, view], [torch.zeros(3, 4, 4)] * 2]))
