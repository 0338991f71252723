# Copyright (c) mmenergykd contributors. All rights reserved.
"""SklearnDigits: split, stratification, determinism, layout, pipelines."""
import numpy as np
import pytest
import torch

pytest.importorskip('sklearn')

import mmenergykd  # noqa: E402,F401
from mmenergykd.datasets import SklearnDigits  # noqa: E402
from mmenergykd.datasets.digits import digits_split_indices  # noqa: E402
from mmenergykd.registry import DATASETS  # noqa: E402


def _labels(dataset):
    return np.array(
        [dataset.get_data_info(i)['gt_label'] for i in range(len(dataset))])


def test_split_sizes_disjoint_and_complete():
    train = SklearnDigits(split='train')
    val = SklearnDigits(split='val')
    assert (len(train), len(val)) == (898, 899)
    assert len(SklearnDigits(split='all')) == 1797
    train_idx = digits_split_indices('train')
    val_idx = digits_split_indices('val')
    assert not set(train_idx) & set(val_idx)
    assert sorted(np.concatenate([train_idx, val_idx])) == list(range(1797))
    # other ratios
    assert len(SklearnDigits(split='val', val_ratio=0.3)) == 540


def test_stratified():
    from sklearn.datasets import load_digits
    total = np.bincount(load_digits().target, minlength=10)
    for split, share in (('train', 0.5), ('val', 0.5)):
        counts = np.bincount(_labels(SklearnDigits(split=split)), minlength=10)
        assert np.all(np.abs(counts - total * share) <= 1), counts
    counts = np.bincount(
        _labels(SklearnDigits(split='val', val_ratio=0.2)), minlength=10)
    assert np.all(np.abs(counts - total * 0.2) <= 1), counts


def test_deterministic_and_seeded():
    a = SklearnDigits(split='val')
    b = SklearnDigits(split='val')
    idx_a = [a.get_data_info(i)['digits_index'] for i in range(len(a))]
    idx_b = [b.get_data_info(i)['digits_index'] for i in range(len(b))]
    assert idx_a == idx_b
    assert np.array_equal(a.get_data_info(5)['img'], b.get_data_info(5)['img'])
    other = digits_split_indices('val', split_seed=1)
    assert not np.array_equal(other, digits_split_indices('val'))


def test_image_layout_and_values():
    from sklearn.datasets import load_digits
    digits = load_digits()
    dataset = SklearnDigits(split='train')
    info = dataset.get_data_info(0)
    img = info['img']
    assert img.dtype == np.uint8 and img.shape == (8, 8, 3)
    assert info['gt_label'] == digits.target[info['digits_index']]
    expected = np.round(digits.images[info['digits_index']] * 255 / 16)
    assert np.array_equal(img[..., 0], expected.astype(np.uint8))
    assert np.array_equal(img[..., 0], img[..., 2])
    all_imgs = np.stack(
        [dataset.get_data_info(i)['img'] for i in range(len(dataset))])
    assert all_imgs.min() == 0 and all_imgs.max() == 255

    grey = SklearnDigits(split='train', num_channels=1, scale_factor=2)
    assert grey.get_data_info(0)['img'].shape == (16, 16, 1)
    big = SklearnDigits(split='train', scale_factor=4, interpolation='nearest')
    img4 = big.get_data_info(0)['img']
    assert img4.shape == (32, 32, 3) and img4.dtype == np.uint8
    # nearest upscaling repeats each pixel in a 4x4 block
    assert np.array_equal(img4[::4, ::4], img)


def test_pipeline_and_registry():
    cfg = dict(
        type='SklearnDigits',
        split='train',
        scale_factor=2,
        pipeline=[
            dict(type='RandomCrop', crop_size=16, padding=2),
            dict(type='PackInputs'),
        ])
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(cfg)
    assert isinstance(dataset, SklearnDigits)
    assert dataset.metainfo['classes'] == tuple(str(i) for i in range(10))
    item = dataset[3]
    assert item['inputs'].shape == (3, 16, 16)
    assert item['inputs'].dtype == torch.uint8
    assert item['data_samples'].gt_label.item() == \
        dataset.get_data_info(3)['gt_label']


@pytest.mark.parametrize('kwargs', [
    dict(split='test'),
    dict(scale_factor=0),
    dict(scale_factor=1.5),
    dict(num_channels=2),
    dict(interpolation='bicubic'),
    dict(val_ratio=1.0),
])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        SklearnDigits(**kwargs)


def test_long_tailed_split():
    balanced = SklearnDigits(split='train')
    counts = np.bincount(_labels(balanced), minlength=10)
    lt = SklearnDigits(split='train', imbalance_ratio=20)
    lt_counts = np.bincount(_labels(lt), minlength=10)
    # CIFAR-100-LT's profile, written out: n_max * r ** (-c / (C - 1))
    n_max = counts.min()
    expected = [int(n_max * 20.0**(-c / 9)) for c in range(10)]
    assert lt_counts.tolist() == expected
    assert expected[0] == n_max and expected[-1] == int(n_max / 20)
    # a subset of the balanced training split, the same on every build
    lt_idx = [lt.get_data_info(i)['digits_index'] for i in range(len(lt))]
    assert set(lt_idx) <= set(digits_split_indices('train'))
    again = SklearnDigits(split='train', imbalance_ratio=20)
    assert lt_idx == [
        again.get_data_info(i)['digits_index'] for i in range(len(again))
    ]
    # ratio 1 keeps n_max images of every class
    assert np.bincount(
        _labels(SklearnDigits(split='train', imbalance_ratio=1)),
        minlength=10).tolist() == [n_max] * 10
    # the held-out split stays balanced and refuses the setting
    with pytest.raises(ValueError, match='stays balanced'):
        SklearnDigits(split='val', imbalance_ratio=20)
    with pytest.raises(ValueError, match='imbalance_ratio'):
        SklearnDigits(split='train', imbalance_ratio=0.5)


def test_unserialized_storage_copies_each_sample():
    # In-memory storage by default: get_data_info hands out a fresh dict
    # with its own image, the same data MMEngine's pickled storage gives.
    fast = SklearnDigits(split='val', scale_factor=2)
    pickled = SklearnDigits(split='val', scale_factor=2, serialize_data=True)
    assert fast.serialize_data is False and pickled.serialize_data is True
    for idx in (0, 5, -1):
        a, b = fast.get_data_info(idx), pickled.get_data_info(idx)
        assert a.keys() == b.keys()
        assert a['sample_idx'] == b['sample_idx'] == idx % len(fast)
        np.testing.assert_array_equal(a['img'], b['img'])
        assert a['gt_label'] == b['gt_label']
    first = fast.get_data_info(0)
    first['img'][:] = 0  # an in-place transform
    first['gt_label'] = -1
    again = fast.get_data_info(0)
    np.testing.assert_array_equal(again['img'],
                                  pickled.get_data_info(0)['img'])
    assert again['gt_label'] == pickled.get_data_info(0)['gt_label']
    assert again['img'].any()
