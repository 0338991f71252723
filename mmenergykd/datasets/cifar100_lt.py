# Copyright (c) mmenergykd contributors. All rights reserved.
"""Long-tailed CIFAR-100 (CIFAR-100-LT) on top of MMPretrain's ``CIFAR100``."""
from typing import List, Optional

import numpy as np
from mmengine.fileio import exists, join_path
from mmpretrain.datasets import CIFAR100

from mmenergykd.registry import DATASETS


@DATASETS.register_module()
class CIFAR100LT(CIFAR100):
    """CIFAR-100 with an exponentially long-tailed training split.

    The training split keeps, for class ``c`` of ``C`` classes,

    ``n_c = floor(n_max * (1 / imb_factor) ** (c / (C - 1)))``

    images, where ``n_max`` is the largest per-class count in the training
    file (500 for CIFAR-100). With ``imb_factor=100`` this gives 500 images
    for class 0, 5 for class 99 and 10,847 in total. The test split is left
    untouched.

    Which images are kept: with an integer ``seed`` (default 0) the indices
    of each class, in class order, are shuffled by one
    ``numpy.random.RandomState(seed)`` and the first ``n_c`` are taken; with
    ``seed=0`` this is the subset of the widely used LDAM-DRW
    ``IMBALANCECIFAR100`` (``np.random.seed(0)``). With ``seed=None`` the
    first ``n_c`` images of each class in file order are kept. Either way
    the kept images stay in file order.

    Unlike MMPretrain's ``CIFAR100`` this class never downloads: the
    python-version files (``cifar-100-python/{train,test,meta}``) must be
    under ``data_root``. ``check_md5=False`` skips the md5 comparison with
    the official archive, for locally generated data in the CIFAR layout
    (the files must still exist).

    Args:
        data_root (str): Folder holding ``cifar-100-python``.
        split (str): ``'train'`` (long-tailed) or ``'test'`` (unchanged).
            Defaults to ``'train'``.
        imb_factor (float): Ratio between the largest and the smallest
            class, ``>= 1`` (1 keeps everything). Defaults to 100.
        seed (int, optional): Selection seed, see above; None selects the
            first images in file order. Defaults to 0.
        check_md5 (bool): Compare the files with the official md5 sums.
            Defaults to True.
        download (bool): Must stay False; accepted only to give a clear
            error when a config inherited from ``CIFAR100`` sets it.
        metainfo (dict, optional): Meta information, e.g. class names.
        data_prefix (str): Prefix of the data path. Defaults to ``''``.
        test_mode (bool): Whether the dataset is for testing.
            Defaults to False.
        **kwargs: Other arguments of MMPretrain's ``BaseDataset``.
    """

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 imb_factor: float = 100.0,
                 seed: Optional[int] = 0,
                 check_md5: bool = True,
                 download: bool = False,
                 metainfo: Optional[dict] = None,
                 data_prefix: str = '',
                 test_mode: bool = False,
                 **kwargs) -> None:
        if download:
            raise ValueError(
                'CIFAR100LT never downloads. Put the python-version CIFAR-100 '
                'files under `data_root`/cifar-100-python (e.g. download once '
                "with mmpretrain's CIFAR100(download=True)) and drop "
                '`download=True`.')
        if imb_factor < 1:
            raise ValueError(
                f'imb_factor is n_max / n_min and must be >= 1, got '
                f'{imb_factor} (LDAM-style 0.01 corresponds to 100).')
        self.imb_factor = float(imb_factor)
        self.seed = seed
        self.check_md5 = check_md5
        self.img_num_per_cls: Optional[List[int]] = None
        super().__init__(
            data_root=data_root,
            split=split,
            metainfo=metainfo,
            download=False,
            data_prefix=data_prefix,
            test_mode=test_mode,
            **kwargs)

    @staticmethod
    def long_tailed_counts(n_max: int, num_classes: int,
                           imb_factor: float) -> List[int]:
        """Per-class image counts of the exponential profile.

        Args:
            n_max (int): Images of the head class (class 0).
            num_classes (int): Number of classes ``C``.
            imb_factor (float): ``n_max / n_min``.

        Returns:
            list[int]: ``floor(n_max * (1 / imb_factor) ** (c / (C - 1)))``
            for ``c = 0 .. C - 1``.
        """
        if num_classes == 1:
            return [n_max]
        ratio = 1.0 / imb_factor
        return [
            int(n_max * ratio**(c / (num_classes - 1.0)))
            for c in range(num_classes)
        ]

    def _check_integrity(self) -> bool:
        """Check that the files exist (and match the md5 sums if asked)."""
        if self.check_md5:
            return super()._check_integrity()
        root = self.data_prefix['root']
        return all(
            exists(join_path(root, self.base_folder, name))
            for name, _ in self.train_list + self.test_list)

    def load_data_list(self) -> List[dict]:
        """Load the split; subsample the training split to the long tail."""
        if not self._check_integrity():
            what = 'missing or fail the md5 check' if self.check_md5 \
                else 'missing'
            raise RuntimeError(
                f'CIFAR-100 files under '
                f"{join_path(self.data_prefix['root'], self.base_folder)} are "
                f'{what}. CIFAR100LT does not download: place the '
                'python-version CIFAR-100 files there' +
                ('' if not self.check_md5 else
                 ', or pass check_md5=False for locally generated data') + '.')
        data_list = super().load_data_list()
        if self.split != 'train':
            return data_list

        labels = np.array([info['gt_label'] for info in data_list])
        num_classes = len(self.CLASSES)
        counts = np.bincount(labels, minlength=num_classes)
        self.img_num_per_cls = self.long_tailed_counts(
            int(counts.max()), num_classes, self.imb_factor)
        rng = None if self.seed is None else np.random.RandomState(self.seed)
        keep = []
        for c, num in enumerate(self.img_num_per_cls):
            idx = np.flatnonzero(labels == c)
            if rng is not None:
                rng.shuffle(idx)
            keep.append(idx[:num])
        kept = np.sort(np.concatenate(keep))
        return [data_list[i] for i in kept]

    def get_cls_num_list(self) -> List[int]:
        """Number of images per class in this split."""
        labels = [int(label) for label in self.get_gt_labels()]
        return np.bincount(labels, minlength=len(self.CLASSES)).tolist()

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        body = super().extra_repr()
        body.append(f'Imbalance factor: \t{self.imb_factor:g}')
        body.append(f'Selection seed: \t{self.seed}')
        return body
