# Copyright (c) mmenergykd contributors. All rights reserved.
"""The dataset under MMEngine's dataset wrappers."""

__all__ = ['innermost_dataset']


def innermost_dataset(dataset):
    """The dataset under MMEngine's wrappers (they keep it as ``.dataset``),
    whose pipeline makes the images.

    Args:
        dataset: A dataset, possibly wrapped (e.g. ``ClassBalancedDataset``,
            ``RepeatDataset``).

    Returns:
        The first dataset down the ``.dataset`` chain that has a
        ``pipeline``, or the last one.
    """
    while not hasattr(dataset, 'pipeline') and hasattr(dataset, 'dataset'):
        dataset = dataset.dataset
    return dataset
