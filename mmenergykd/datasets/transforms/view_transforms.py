# Copyright (c) mmenergykd contributors. All rights reserved.
"""``RandomCrop`` and ``RandomFlip`` that record (or replay) their view.

A *view* is the discrete choice a random transform made for one sample: the
crop offset, the flip. The training pipeline's views combine into one int,
``teacher_view``, in mixed radix: each view transform ``t`` with ``n_t``
choices adds ``choice_t * (product of the n of the transforms before it)``.
For CIFAR's ``RandomCrop(32, padding=4)`` then ``RandomFlip``:
``teacher_view = (offset_h * 9 + offset_w) + 81 * flipped`` in ``[0, 162)``.

Recording draws exactly the random numbers the parent transform draws (it
calls the parent's own random method), so a recording pipeline gives the
same images and leaves NumPy's random state where the plain pipeline does.

Replay: put the view id in ``results['teacher_view_replay']`` before the
pipeline; each view transform takes its digit from it and draws nothing.

Keys written into ``results``: ``teacher_view`` (the view so far) and
``teacher_num_views`` (the number of views so far).
"""
import math
from typing import Optional, Tuple

import mmcv
import numpy as np
from mmcv.transforms import RandomFlip
from mmpretrain.datasets.transforms import RandomCrop, RandomResizedCrop

from mmenergykd.registry import TRANSFORMS

__all__ = [
    'ViewRandomCrop', 'ViewRandomFlip', 'ViewRandomResizedCrop', 'REPLAY_KEY'
]

#: ``results`` key holding the view still to replay (mixed radix remainder).
REPLAY_KEY = 'teacher_view_replay'


def _take_replay(results: dict, num_choices: int) -> Optional[int]:
    """This transform's choice from the replayed view, or None (record)."""
    rest = results.get(REPLAY_KEY)
    if rest is None:
        return None
    rest = int(rest)
    if rest < 0:
        raise ValueError(f'`{REPLAY_KEY}` must be a view id >= 0, got '
                         f'{rest}.')
    results[REPLAY_KEY] = rest // num_choices
    return rest % num_choices


def _record(results: dict, choice: int, num_choices: int) -> None:
    """Add this transform's ``choice`` to ``teacher_view`` (mixed radix)."""
    radix = int(results.get('teacher_num_views', 1))
    results['teacher_view'] = int(results.get('teacher_view', 0)) + \
        choice * radix
    results['teacher_num_views'] = radix * num_choices


@TRANSFORMS.register_module()
class ViewRandomCrop(RandomCrop):
    """MMPretrain's ``RandomCrop`` that records or replays its crop offset.

    Same arguments as :class:`mmpretrain.datasets.transforms.RandomCrop`.
    The choice is ``offset_h * n_w + offset_w`` among ``n_h * n_w`` offsets
    of the (padded) image: 9 x 9 = 81 for ``RandomCrop(32, padding=4)`` on a
    32 x 32 image.
    """

    def _pad(self, img: np.ndarray) -> np.ndarray:
        """The padding of ``RandomCrop.transform``, unchanged."""
        if self.padding is not None:
            img = mmcv.impad(img, padding=self.padding, pad_val=self.pad_val)
        if self.pad_if_needed:
            h_pad = math.ceil(max(0, self.crop_size[0] - img.shape[0]) / 2)
            w_pad = math.ceil(max(0, self.crop_size[1] - img.shape[1]) / 2)
            img = mmcv.impad(
                img,
                padding=(w_pad, h_pad, w_pad, h_pad),
                pad_val=self.pad_val,
                padding_mode=self.padding_mode)
        return img

    def crop_grid(self, h: int, w: int) -> Tuple[int, int, int, int]:
        """``(n_h, n_w, target_h, target_w)`` for a padded ``h x w`` image,
        as ``RandomCrop.rand_crop_params`` draws them."""
        target_h, target_w = self.crop_size
        if w == target_w and h == target_h:
            return 1, 1, h, w
        target_h, target_w = min(h, target_h), min(w, target_w)
        return h - target_h + 1, w - target_w + 1, target_h, target_w

    def transform(self, results: dict) -> dict:
        """Crop ``results['img']`` at a random (or the replayed) offset.

        Args:
            results (dict): Result dict from the loading pipeline.

        Returns:
            dict: ``img``, ``img_shape``, ``teacher_view`` and
            ``teacher_num_views`` updated.
        """
        img = self._pad(results['img'])
        n_h, n_w, target_h, target_w = self.crop_grid(*img.shape[:2])
        choice = _take_replay(results, n_h * n_w)
        if choice is None:
            offset_h, offset_w, target_h, target_w = \
                self.rand_crop_params(img)
        else:
            offset_h, offset_w = divmod(choice, n_w)
        _record(results, offset_h * n_w + offset_w, n_h * n_w)
        img = mmcv.imcrop(
            img,
            np.array([
                offset_w, offset_h, offset_w + target_w - 1,
                offset_h + target_h - 1
            ]))
        results['img'] = img
        results['img_shape'] = img.shape
        return results


@TRANSFORMS.register_module()
class ViewRandomFlip(RandomFlip):
    """MMCV's ``RandomFlip`` (as MMPretrain registers it) that records or
    replays its flip.

    Same arguments as :class:`mmcv.transforms.RandomFlip`. The choice is 0
    for no flip and ``i + 1`` for the ``i``-th direction (1 = flipped for a
    single direction).
    """

    def directions(self) -> list:
        """The flip directions, in the order of the choices 1, 2, ..."""
        if isinstance(self.direction, str):
            return [self.direction]
        return list(self.direction)

    def _flip_on_direction(self, results: dict) -> None:
        directions = self.directions()
        choice = _take_replay(results, len(directions) + 1)
        if choice is None:
            cur_dir = self._choose_direction()
            choice = 0 if cur_dir is None else directions.index(cur_dir) + 1
        _record(results, choice, len(directions) + 1)
        if choice == 0:
            results['flip'] = False
            results['flip_direction'] = None
        else:
            results['flip'] = True
            results['flip_direction'] = directions[choice - 1]
            self._flip(results)


@TRANSFORMS.register_module()
class ViewRandomResizedCrop(RandomResizedCrop):
    """``RandomResizedCrop`` restricted to ``num_crops`` fixed crops per
    image, for a sampled teacher bank.

    Crop ``j`` of sample ``i`` is the box MMPretrain's ``RandomResizedCrop``
    draws (its own ``rand_crop_params``) from NumPy's generator seeded with
    ``(view_seed, i, j)``; the global random state is restored afterwards.
    Recording draws ``j`` uniformly (one ``np.random.randint``); replay
    takes it from ``teacher_view_replay``. The box is also written to
    ``results['teacher_crop_box']`` as fractions of the image (top, left,
    height, width).

    Args:
        num_crops (int): Crops per image (K).
        view_seed (int): Seed of the crops. Defaults to 0.
        **kwargs: The arguments of ``RandomResizedCrop``.
    """

    def __init__(self, *args, num_crops: int, view_seed: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        if not isinstance(num_crops, int) or num_crops < 1:
            raise ValueError(f'`num_crops` must be an int >= 1, got '
                             f'{num_crops!r}.')
        self.num_crops = num_crops
        self.view_seed = int(view_seed)

    def crop_box(self, img: np.ndarray, sample_idx: int,
                 crop: int) -> Tuple[int, int, int, int]:
        """``(offset_h, offset_w, target_h, target_w)`` of crop ``crop`` of
        sample ``sample_idx``."""
        seed = np.random.SeedSequence([self.view_seed, sample_idx,
                                       crop]).generate_state(1)[0]
        state = np.random.get_state()
        np.random.seed(int(seed))
        try:
            return self.rand_crop_params(img)
        finally:
            np.random.set_state(state)

    def transform(self, results: dict) -> dict:
        """Crop one of the image's ``num_crops`` boxes and resize it.

        Args:
            results (dict): Result dict with ``img`` and ``sample_idx``.

        Returns:
            dict: ``img``, ``img_shape``, ``teacher_view``,
            ``teacher_num_views`` and ``teacher_crop_box`` updated.
        """
        if 'sample_idx' not in results:
            raise KeyError('ViewRandomResizedCrop needs `sample_idx` in the '
                           'results (set by the dataset).')
        choice = _take_replay(results, self.num_crops)
        if choice is None:
            choice = int(np.random.randint(self.num_crops))
        _record(results, choice, self.num_crops)
        img = results['img']
        offset_h, offset_w, target_h, target_w = self.crop_box(
            img, int(results['sample_idx']), choice)
        h, w = img.shape[:2]
        results['teacher_crop_box'] = (offset_h / h, offset_w / w,
                                       target_h / h, target_w / w)
        img = mmcv.imcrop(
            img,
            bboxes=np.array([
                offset_w, offset_h, offset_w + target_w - 1,
                offset_h + target_h - 1
            ]))
        results['img'] = mmcv.imresize(
            img,
            tuple(self.scale[::-1]),
            interpolation=self.interpolation,
            backend=self.backend)
        results['img_shape'] = results['img'].shape
        return results
