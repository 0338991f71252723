# Copyright (c) mmenergykd contributors. All rights reserved.
"""scikit-learn's bundled handwritten digits as an MMPretrain dataset."""
from functools import lru_cache
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmpretrain.datasets import BaseDataset

from mmenergykd.registry import DATASETS

__all__ = ['SklearnDigits', 'digits_split_indices', 'long_tailed_counts']

DIGITS_CLASSES = tuple(str(i) for i in range(10))
# Pixel statistics of the whole set after scaling 0..16 to 0..255 (the same
# for every channel): use them in ``ClsDataPreprocessor``.
DIGITS_MEAN = 77.84
DIGITS_STD = 95.89


@lru_cache(maxsize=1)
def _load_digits() -> Tuple[np.ndarray, np.ndarray]:
    """``(images, target)`` of ``sklearn.datasets.load_digits()``, cached
    (read-only arrays)."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    images, target = digits.images, digits.target
    images.setflags(write=False)
    target.setflags(write=False)
    return images, target


def digits_split_indices(split: str,
                         val_ratio: float = 0.5,
                         split_seed: int = 0) -> np.ndarray:
    """Indices (into ``sklearn.datasets.load_digits()``) of one split.

    The split is ``sklearn.model_selection.train_test_split`` over the 1797
    indices with ``test_size=val_ratio``, ``stratify=target`` and
    ``random_state=split_seed``, sorted ascending. The same arguments always
    give the same split.

    Args:
        split (str): ``'train'``, ``'val'`` or ``'all'``.
        val_ratio (float): Share of the held-out split. Defaults to 0.5.
        split_seed (int): ``random_state`` of the split. Defaults to 0.

    Returns:
        np.ndarray: int64 indices.
    """
    from sklearn.model_selection import train_test_split
    target = _load_digits()[1]
    indices = np.arange(len(target))
    if split == 'all':
        return indices
    if split not in ('train', 'val'):
        raise ValueError(
            f"`split` must be 'train', 'val' or 'all', got {split!r}.")
    if not 0 < val_ratio < 1:
        raise ValueError(f'`val_ratio` must be in (0, 1), got {val_ratio!r}.')
    train_idx, val_idx = train_test_split(
        indices, test_size=val_ratio, stratify=target, random_state=split_seed)
    return np.sort(train_idx if split == 'train' else val_idx)


def long_tailed_counts(class_counts: Sequence[int],
                       imbalance_ratio: float) -> List[int]:
    """Images kept per class by the exponential long-tailed profile.

    As CIFAR-100-LT (Cao et al., LDAM): class ``c`` of ``C`` keeps
    ``int(n_max * imbalance_ratio ** (-c / (C - 1)))`` images, ``n_max``
    the smallest class count (so every class can give that many), class 0
    the head and class ``C - 1`` the tail (``n_max / imbalance_ratio``).

    Args:
        class_counts (Sequence[int]): Images per class in the balanced split.
        imbalance_ratio (float): Head count / tail count, >= 1.

    Returns:
        list[int]: Images kept per class (at least 1).
    """
    if not isinstance(imbalance_ratio, (int, float)) or imbalance_ratio < 1:
        raise ValueError('`imbalance_ratio` must be a number >= 1 (head / '
                         f'tail class size), got {imbalance_ratio!r}.')
    n_max = int(min(class_counts))
    num = len(class_counts)
    return [
        max(1, int(n_max * float(imbalance_ratio)**(-c / max(1, num - 1))))
        for c in range(num)
    ]


def _long_tailed_subset(indices: np.ndarray, target: np.ndarray,
                        imbalance_ratio: float, seed: int) -> np.ndarray:
    """The long-tailed subset of the split ``indices`` (sorted): per class,
    ``long_tailed_counts`` images drawn at random (``seed``)."""
    labels = target[indices]
    classes = np.unique(target)
    counts = long_tailed_counts([int((labels == c).sum()) for c in classes],
                                imbalance_ratio)
    rng = np.random.RandomState(seed)
    keep = []
    for c, n in zip(classes, counts):
        members = indices[labels == c]
        keep.append(members[rng.permutation(len(members))[:n]])
    return np.sort(np.concatenate(keep))


@DATASETS.register_module()
class SklearnDigits(BaseDataset):
    """scikit-learn's handwritten digits (UCI optdigits test set).

    1797 real 8x8 grey-scale images of the digits 0-9 (about 180 per class),
    bundled with scikit-learn: nothing is downloaded. Pixel values 0..16 are
    scaled to 0..255 and stored as ``uint8`` arrays of shape (H, W, C) under
    ``img``, the layout MMPretrain's transforms expect after
    ``LoadImageFromFile``, so a pipeline starts directly with transforms such
    as ``RandomCrop`` or ``Resize`` and ends with ``PackInputs``.

    **Split.** Fixed and stratified:
    ``sklearn.model_selection.train_test_split(indices, test_size=val_ratio,
    stratify=target, random_state=split_seed)``. With the defaults
    (``val_ratio=0.5``, ``split_seed=0``) the training split has 898 images
    and the held-out ``'val'`` split 899, each with the class proportions of
    the whole set (every class within one image of half its count). There is
    no separate test split; use ``'val'`` for both.

    **Long-tailed training split.** ``imbalance_ratio=r`` (``split='train'``
    only) keeps, per class, a random subset (seeded by ``split_seed``) of
    the balanced training split with the exponential profile of CIFAR-100-LT:
    class ``c`` keeps ``int(n_max * r ** (-c / 9))`` images (digit 0 the
    head, digit 9 the tail; see :func:`long_tailed_counts`). With the
    defaults and ``r = 20``: 87, 62, 44, 32, 22, 16, 11, 8, 6 and 4 images,
    292 in all. The held-out split stays balanced.

    **Upscaling.** ``scale_factor`` (an int, default 1) enlarges the images
    once when the dataset is loaded (``cv2`` resize, ``interpolation``
    ``'bilinear'`` by default or ``'nearest'``), so 8x8 becomes
    ``8 * scale_factor`` pixels square at no per-step cost. MMPretrain's
    ``Resize`` in the pipeline works as well (per sample, every epoch).

    Args:
        split (str): ``'train'``, ``'val'`` or ``'all'``. Defaults to
            ``'train'``.
        val_ratio (float): Share of the held-out split. Defaults to 0.5.
        split_seed (int): ``random_state`` of the split. Defaults to 0.
        scale_factor (int): Upscaling factor. Defaults to 1 (8x8).
        interpolation (str): ``'bilinear'`` or ``'nearest'``.
        imbalance_ratio (float, optional): Long-tailed training split with
            this head / tail ratio (>= 1). Defaults to None (balanced).
        num_channels (int): 3 (the grey image repeated, for backbones with
            ``in_channels=3``; default) or 1.
        pipeline (Sequence): MMPretrain transforms. Defaults to ().
        test_mode (bool): Defaults to False.
        **kwargs: Other arguments of MMPretrain's ``BaseDataset`` (e.g.
            ``indices``, ``lazy_init``); ``ann_file`` is not used.
            ``serialize_data`` defaults to False here: the images stay
            arrays in memory and :meth:`get_data_info` copies one per
            sample (True: MMEngine's pickled storage, same samples).

    Example:
        >>> train = SklearnDigits(split='train', scale_factor=2,
        ...                       pipeline=[dict(type='PackInputs')])
        >>> len(train), train[0]['inputs'].shape
        (898, torch.Size([3, 16, 16]))
    """

    METAINFO = {'classes': DIGITS_CLASSES}

    def __init__(self,
                 split: str = 'train',
                 val_ratio: float = 0.5,
                 split_seed: int = 0,
                 scale_factor: int = 1,
                 interpolation: str = 'bilinear',
                 imbalance_ratio: Optional[float] = None,
                 num_channels: int = 3,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 ann_file: str = '',
                 metainfo: Optional[dict] = None,
                 **kwargs):
        if split not in ('train', 'val', 'all'):
            raise ValueError(
                f"`split` must be 'train', 'val' or 'all', got {split!r}.")
        if not isinstance(scale_factor, int) or scale_factor < 1:
            raise ValueError('`scale_factor` must be an int >= 1, got '
                             f'{scale_factor!r}.')
        if interpolation not in ('bilinear', 'nearest'):
            raise ValueError("`interpolation` must be 'bilinear' or "
                             f"'nearest', got {interpolation!r}.")
        if imbalance_ratio is not None:
            if split != 'train':
                raise ValueError(
                    '`imbalance_ratio` makes the training split long-tailed; '
                    f"the {split!r} split stays balanced: drop it there.")
            long_tailed_counts([1], imbalance_ratio)  # checks the value
        if num_channels not in (1, 3):
            raise ValueError(
                f'`num_channels` must be 1 or 3, got {num_channels!r}.')
        self.split = split
        self.val_ratio = val_ratio
        self.split_seed = split_seed
        self.scale_factor = scale_factor
        self.interpolation = interpolation
        self.imbalance_ratio = imbalance_ratio
        self.num_channels = num_channels
        # The images are small arrays in memory: copying one per sample
        # (get_data_info) is cheaper than MMEngine's pickled storage.
        kwargs.setdefault('serialize_data', False)
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """One dict per image: ``img`` (H, W, C) uint8, ``gt_label``."""
        all_images, target = _load_digits()
        indices = digits_split_indices(self.split, self.val_ratio,
                                       self.split_seed)
        if self.imbalance_ratio is not None:
            indices = _long_tailed_subset(indices, target,
                                          self.imbalance_ratio,
                                          self.split_seed)
        images = np.round(all_images[indices] *
                          (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
        if self.scale_factor > 1:
            import cv2
            size = 8 * self.scale_factor
            flag = cv2.INTER_LINEAR if self.interpolation == 'bilinear' \
                else cv2.INTER_NEAREST
            images = np.stack([
                cv2.resize(img, (size, size), interpolation=flag)
                for img in images
            ])
        images = images[..., None]
        if self.num_channels == 3:
            images = np.repeat(images, 3, axis=-1)
        images = np.ascontiguousarray(images)
        return [
            dict(
                img=img,
                img_shape=img.shape[:2],
                ori_shape=img.shape[:2],
                gt_label=int(label),
                digits_index=int(idx))
            for img, label, idx in zip(images, target[indices], indices)
        ]

    def get_data_info(self, idx: int) -> dict:
        """A fresh dict for sample ``idx`` with its own copy of ``img``.

        Without serialization MMEngine deep-copies the whole dict; a shallow
        copy plus a copy of the image (the one mutable entry) is the same
        protection against in-place transforms at a fraction of the cost.
        """
        if self.serialize_data:
            return super().get_data_info(idx)
        info = dict(self.data_list[idx])
        info['img'] = info['img'].copy()
        info['sample_idx'] = idx if idx >= 0 else len(self) + idx
        return info

    def extra_repr(self) -> List[str]:
        return [
            f'Split: \t{self.split} (val_ratio={self.val_ratio}, '
            f'split_seed={self.split_seed}, stratified' +
            ('' if self.imbalance_ratio is None else
             f', long-tailed, imbalance {self.imbalance_ratio}') + ')',
            f'Image size: \t{8 * self.scale_factor}x{8 * self.scale_factor}'
            f'x{self.num_channels} uint8',
        ]
