# Copyright (c) mmenergykd contributors. All rights reserved.
"""A classification data preprocessor that also takes several views."""
from typing import List, Optional, Sequence

from mmpretrain.models import ClsDataPreprocessor
from torch import Tensor

from mmenergykd.registry import MODELS

__all__ = ['MultiViewClsDataPreprocessor']


@MODELS.register_module()
class MultiViewClsDataPreprocessor(ClsDataPreprocessor):
    """:class:`ClsDataPreprocessor` for batches with several views per image.

    MMPretrain's ``MultiView`` transform turns ``img`` into a list of views
    and ``PackInputs`` packs it as a list of (C, H, W) tensors per image.
    ``ClsDataPreprocessor`` cannot process that (it expects one tensor per
    image), so this subclass splits the batch by view, runs each view
    through the parent's processing (BGR -> RGB, normalisation, padding /
    stacking), and returns:

    - ``inputs``: a list with one (B, C, H, W) float tensor per view, in the
      order of the ``MultiView`` pipelines (MLKD: ``[weak, strong]``);
    - ``data_samples``: one ``DataSample`` per image (not per view), with
      the labels processed once.

    Single-view batches (validation, testing, prediction, a single-view
    training pipeline) are processed exactly as by the parent and give one
    (B, C, H, W) tensor. The decision is made from the batch's structure,
    not from ``training``, so a calibration pass over a two-view training
    set (run with ``training=False``) gets both views too.

    Both collate functions are accepted: ``pseudo_collate`` (MMEngine's
    default) gives one list of B (C, H, W) tensors per view;
    ``default_collate`` one (B, C, H, W) tensor per view.

    Batch augmentations (``batch_augments``: Mixup, CutMix) are refused on
    multi-view training batches: they would mix each view with a different
    partner and lambda, and the views would no longer show the same images.

    Args:
        **kwargs: The arguments of :class:`ClsDataPreprocessor`.

    Example:
        >>> preprocessor = MultiViewClsDataPreprocessor(
        ...     mean=[129.3, 124.1, 112.4], std=[68.2, 65.4, 70.4])
        >>> images = [torch.zeros(3, 32, 32, dtype=torch.uint8)] * 2
        >>> # pseudo_collate of two images with two views: view-major
        >>> out = preprocessor(dict(inputs=[images, images]), training=True)
        >>> [v.shape for v in out['inputs']]
        [torch.Size([2, 3, 32, 32]), torch.Size([2, 3, 32, 32])]
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        """Normalise a single- or multi-view batch.

        Args:
            data (dict): Data sampled from the dataloader.
            training (bool): Whether to enable training-time augmentation.

        Returns:
            dict: ``inputs`` (a tensor, or a list of per-view tensors) and
            ``data_samples``.
        """
        views = split_views(data['inputs'])
        if views is None:
            return super().forward(data, training)
        if training and self.batch_augments is not None:
            raise ValueError(
                'MultiViewClsDataPreprocessor: `batch_augments` (Mixup / '
                'CutMix) cannot be applied to a multi-view batch: each view '
                'would be mixed differently. Remove `batch_augments` from '
                '`data_preprocessor` for two-view (MLKD) training.')
        first = super().forward(
            dict(inputs=views[0], data_samples=data.get('data_samples')),
            training)
        outputs = [first['inputs']]
        for view in views[1:]:
            outputs.append(super().forward(
                dict(inputs=view, data_samples=None), training)['inputs'])
        shapes = {tuple(out.shape) for out in outputs}
        if len(shapes) > 1:
            raise ValueError(
                'The views of a multi-view batch must have the same shape '
                f'after preprocessing, got {sorted(shapes)}. Give every '
                '`MultiView` pipeline the same crop size.')
        return dict(inputs=outputs, data_samples=first['data_samples'])


def split_views(inputs) -> Optional[List]:
    """Split a collated multi-view batch by view; None if single-view.

    Both MMEngine collate functions transpose the per-image view lists that
    ``PackInputs`` makes from ``MultiView`` output, so a multi-view batch is
    view-major: ``pseudo_collate`` gives one list of B (C, H, W) tensors
    per view, ``default_collate`` one (B, C, H, W) tensor per view.

    Args:
        inputs: ``data['inputs']`` from the dataloader.

    Returns:
        list | None: One entry per view (a list of (C, H, W) tensors or a
        (B, C, H, W) tensor, as the parent class accepts them); None for a
        single-view batch (a tensor, or a list of (C, H, W) tensors).
    """
    if isinstance(inputs, Tensor) or not isinstance(inputs, Sequence) \
            or len(inputs) == 0:
        return None
    first = inputs[0]
    if isinstance(first, Tensor):
        if first.dim() == 4:  # default_collate: one tensor per view
            return list(inputs)
        return None  # pseudo_collate, one (C, H, W) tensor per image
    sizes = {
        len(view) if isinstance(view, (list, tuple)) else -1
        for view in inputs
    }
    if len(sizes) > 1 or -1 in sizes or 0 in sizes:
        raise ValueError(
            'A multi-view batch needs every view to hold the same number '
            f'(>= 1) of images, got view sizes {sorted(sizes)} (-1: not a '
            'list). Give every image the same `MultiView` pipeline.')
    return [list(view) for view in inputs]
