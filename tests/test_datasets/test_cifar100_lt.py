# Copyright (c) mmenergykd contributors. All rights reserved.
import math
import pickle
from pathlib import Path

import mmpretrain.datasets  # noqa: F401  (registers the transforms)
import numpy as np
import pytest
from mmpretrain.datasets.categories import CIFAR100_CATEGORIES
from mmpretrain.registry import DATASETS

from mmenergykd.datasets import CIFAR100LT

NUM_CLASSES = 100
N_PER_CLASS = 20  # n_max of the tiny training file
N_TEST_PER_CLASS = 2


def expected_counts(n_max: int, imb_factor: float) -> list:
    """n_c = floor(n_max * imb_factor ** (-c / (C - 1))), c = 0 .. C - 1."""
    return [
        math.floor(n_max * imb_factor**(-c / (NUM_CLASSES - 1)))
        for c in range(NUM_CLASSES)
    ]


@pytest.fixture(scope='module')
def cifar_root(tmp_path_factory) -> Path:
    """Tiny CIFAR-100 in the python-version layout, labels in random order.

    Image ``i`` of the training file has all pixels equal to ``i % 256`` in
    channel 0 and ``i // 256`` in channel 1, so the kept images can be traced
    back to their file positions.
    """
    root = tmp_path_factory.mktemp('cifar')
    folder = root / 'cifar-100-python'
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, per_class in (('train', N_PER_CLASS), ('test',
                                                      N_TEST_PER_CLASS)):
        labels = rng.permutation(np.repeat(np.arange(NUM_CLASSES), per_class))
        n = len(labels)
        data = np.zeros((n, 3, 32 * 32), dtype=np.uint8)
        data[:, 0] = (np.arange(n) % 256)[:, None]
        data[:, 1] = (np.arange(n) // 256)[:, None]
        entry = {
            'filenames': [f'img_{i}.png' for i in range(n)],
            'batch_label': f'tiny {split}',
            'fine_labels': labels.tolist(),
            'coarse_labels': (labels // 5).tolist(),
            'data': data.reshape(n, -1),
        }
        with open(folder / split, 'wb') as f:
            pickle.dump(entry, f)
    with open(folder / 'meta', 'wb') as f:
        pickle.dump(
            {
                'fine_label_names': list(CIFAR100_CATEGORIES),
                'coarse_label_names': [f'c{i}' for i in range(20)]
            }, f)
    return root


def train_labels(root: Path) -> np.ndarray:
    with open(root / 'cifar-100-python' / 'train', 'rb') as f:
        return np.array(pickle.load(f)['fine_labels'])


def file_positions(dataset) -> list:
    return [
        int(info['img'][0, 0, 0]) + 256 * int(info['img'][0, 0, 1])
        for info in (dataset.get_data_info(i) for i in range(len(dataset)))
    ]


@pytest.fixture(autouse=True)
def no_download(monkeypatch):

    def fail(*args, **kwargs):
        raise AssertionError('CIFAR100LT must never download')

    monkeypatch.setattr(
        'mmpretrain.datasets.cifar.download_and_extract_'
        'archive', fail)


def test_counts_for_the_real_cifar100():
    # published CIFAR-100-LT training-set sizes (LDAM-DRW): 10847 / 19573
    counts = CIFAR100LT.long_tailed_counts(500, 100, 100)
    assert counts == expected_counts(500, 100)
    assert (counts[0], counts[-1], sum(counts)) == (500, 5, 10847)
    assert sum(CIFAR100LT.long_tailed_counts(500, 100, 10)) == 19573
    assert CIFAR100LT.long_tailed_counts(500, 100, 1) == [500] * 100


@pytest.mark.parametrize('imb_factor', [10, 4.5, 1])
def test_first_in_file_order(cifar_root, imb_factor):
    dataset = CIFAR100LT(
        data_root=str(cifar_root),
        imb_factor=imb_factor,
        seed=None,
        check_md5=False)
    counts = expected_counts(N_PER_CLASS, imb_factor)
    assert dataset.get_cls_num_list() == counts
    assert dataset.img_num_per_cls == counts
    assert len(dataset) == sum(counts)

    labels = train_labels(cifar_root)
    expected = sorted(
        i for c in range(NUM_CLASSES)
        for i in np.flatnonzero(labels == c)[:counts[c]])
    assert file_positions(dataset) == expected  # kept in file order
    assert dataset.get_gt_labels().tolist() == labels[expected].tolist()


def test_seeded_selection_is_ldam_style(cifar_root):
    dataset = CIFAR100LT(
        data_root=str(cifar_root), imb_factor=10,
        check_md5=False)  # seed=0 by default
    counts = expected_counts(N_PER_CLASS, 10)
    assert dataset.get_cls_num_list() == counts

    # np.random.seed(0), then per class in order: shuffle its indices and
    # keep the first n_c (LDAM-DRW's IMBALANCECIFAR100).
    labels = train_labels(cifar_root)
    rng = np.random.RandomState(0)
    expected = []
    for c in range(NUM_CLASSES):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        expected += idx[:counts[c]].tolist()
    assert file_positions(dataset) == sorted(expected)

    other = CIFAR100LT(
        data_root=str(cifar_root), imb_factor=10, seed=1, check_md5=False)
    assert other.get_cls_num_list() == counts
    assert file_positions(other) != file_positions(dataset)


def test_test_split_untouched(cifar_root):
    dataset = CIFAR100LT(
        data_root=str(cifar_root),
        split='test',
        imb_factor=10,
        check_md5=False)
    assert len(dataset) == NUM_CLASSES * N_TEST_PER_CLASS
    assert dataset.get_cls_num_list() == [N_TEST_PER_CLASS] * NUM_CLASSES


def test_build_from_registry_with_pipeline(cifar_root):
    dataset = DATASETS.build(
        dict(
            type='CIFAR100LT',
            data_root=str(cifar_root),
            imb_factor=10,
            check_md5=False,
            pipeline=[dict(type='PackInputs')]))
    assert isinstance(dataset, CIFAR100LT)
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 32, 32)
    assert len(dataset.CLASSES) == NUM_CLASSES
    assert 'Imbalance factor' in repr(dataset)


def test_md5_check_and_no_download(cifar_root, tmp_path):
    # locally generated files do not match the official md5 sums
    with pytest.raises(RuntimeError, match='check_md5=False'):
        CIFAR100LT(data_root=str(cifar_root))
    with pytest.raises(RuntimeError, match='missing'):
        CIFAR100LT(data_root=str(tmp_path), check_md5=False)
    with pytest.raises(ValueError, match='never downloads'):
        CIFAR100LT(data_root=str(cifar_root), download=True)
    with pytest.raises(ValueError, match='>= 1'):
        CIFAR100LT(data_root=str(cifar_root), imb_factor=0.01)
