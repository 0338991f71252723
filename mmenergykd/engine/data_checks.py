# Copyright (c) mmenergykd contributors. All rights reserved.
"""A loop's data checked before the first step.

An empty validation set used to be found after a whole training epoch (and
a checkpoint): validation died in MMEngine's sampler with a bare
``ZeroDivisionError``. :func:`check_loop_data` refuses an empty dataset (or
a dataloader with no batch) as soon as the loop is built, naming the
setting, and makes the dataset name the file of a sample that cannot be
loaded (:func:`mmenergykd.datasets.name_sample_errors`).
"""
import contextlib
from typing import Any, Iterator

from torch.utils.data import DataLoader

from mmenergykd.datasets.sample_errors import name_sample_errors

__all__ = ['EmptyDataError', 'check_loop_data', 'empty_dataset_named']

_NOTHING_TO = dict(
    train_dataloader='there is nothing to train on',
    val_dataloader='there is nothing to validate on',
    test_dataloader='there is nothing to test on')
_FIX = dict(
    train_dataloader='Check its `data_root`, `ann_file`, `data_prefix` / '
    '`split` (and `indices`, if set).',
    val_dataloader='Point it at a split with samples (check its '
    '`data_root`, `ann_file`, `data_prefix` / `split`), or train without '
    'validation (`--no-validate`).',
    test_dataloader='Point it at a split with samples (check its '
    '`data_root`, `ann_file`, `data_prefix` / `split`).')


class EmptyDataError(ValueError):
    """A dataset (or a dataloader) that gives no sample."""


def _describe(dataset: Any) -> str:
    """The dataset's type and where it reads from (a dataset or its
    config)."""
    get = dataset.get if isinstance(dataset, dict) else \
        lambda key: getattr(dataset, key, None)
    parts = []
    for key in ('data_root', 'ann_file', 'data_prefix', 'split'):
        value = get(key)
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if v}
        if value:
            parts.append(f'{key}={value!r}')
    kind = dataset.get('type') if isinstance(dataset, dict) else \
        type(dataset).__name__
    where = f": {', '.join(parts)}" if parts else ''
    return f'{kind}{where}'


def _empty_message(setting: str, description: str) -> str:
    nothing = _NOTHING_TO.get(setting, 'there is nothing to run on')
    return (f'`{setting}.dataset` ({description}) has no samples: '
            f'{nothing}. {_FIX.get(setting, "")}').rstrip()


def _from_empty_serialization(err: BaseException) -> bool:
    """Whether ``err`` is (or wraps) MMEngine's failure to serialize an
    empty data list (``np.concatenate`` of nothing, in
    ``BaseDataset._serialize_data``)."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        frame = err.__traceback__
        while frame is not None:
            if frame.tb_frame.f_code.co_name == '_serialize_data':
                return True
            frame = frame.tb_next
        err = err.__cause__ or err.__context__
    return False


@contextlib.contextmanager
def empty_dataset_named(setting: str, dataloader_cfg: Any) -> Iterator[None]:
    """Name the setting when building a dataloader fails on an empty
    dataset (MMEngine serializes the data list when the dataset is built,
    which fails with ``need at least one array to concatenate``).

    Args:
        setting (str): ``'train_dataloader'``, ``'val_dataloader'`` or
            ``'test_dataloader'``.
        dataloader_cfg: The dataloader's config (or a built dataloader).

    Yields:
        None

    Raises:
        EmptyDataError: The dataset built inside the block was empty.
    """
    try:
        yield
    except ValueError as err:
        if not _from_empty_serialization(err):
            raise
        dataset = dataloader_cfg.get('dataset', {}) if isinstance(
            dataloader_cfg, dict) else getattr(dataloader_cfg, 'dataset', {})
        raise EmptyDataError(_empty_message(setting,
                                            _describe(dataset))) from err


def check_loop_data(loop: Any, setting: str) -> None:
    """Refuse a loop whose dataloader gives nothing; name failing samples.

    Args:
        loop: A built MMEngine loop (``loop.dataloader`` a ``DataLoader``).
        setting (str): The dataloader's setting: ``'train_dataloader'``,
            ``'val_dataloader'`` or ``'test_dataloader'``.

    Raises:
        EmptyDataError: The dataset has no sample, or the dataloader no
            batch (``drop_last`` with fewer samples than ``batch_size``).
    """
    loader = getattr(loop, 'dataloader', None)
    if not isinstance(loader, DataLoader):
        return
    dataset = loader.dataset
    try:
        size = len(dataset)
    except TypeError:  # an iterable dataset has no length
        return
    if size == 0:
        raise EmptyDataError(_empty_message(setting, _describe(dataset)))
    nothing = _NOTHING_TO.get(setting, 'there is nothing to run on')
    if len(loader) == 0:
        try:
            per_process = len(loader.sampler)
        except TypeError:
            per_process = size
        raise EmptyDataError(
            f'`{setting}` gives no batch: each process gets {per_process} '
            f'of its {size} samples, fewer than `{setting}.batch_size` '
            f'({loader.batch_size}), and `drop_last` drops them, so '
            f'{nothing}. Lower `{setting}.batch_size` or set '
            f'`{setting}.drop_last=False`.')
    name_sample_errors(dataset, f'{setting}.dataset')
