# Copyright (c) mmenergykd contributors. All rights reserved.
"""Data-loading failures that name the sample's file and dataset index.

A zero-byte image in a training set ends, in MMCV's ``LoadImageFromFile``,
in ``cv2.error ... !buf.empty() in function 'imdecode_'``: no file, no
index. :func:`name_sample_errors` wraps a dataset's ``prepare_data`` (the
one call of MMEngine's ``BaseDataset.__getitem__`` that runs the pipeline,
whatever the dataset type and whatever its pipeline, also after a hook
swaps the pipeline) so that a failure whose cause is the file, i.e. a file
that is missing, empty or not a readable image, is raised as
:class:`SampleLoadError` naming the file, the index and the dataset setting.
Any other failure keeps its type and gets a note naming the sample.
"""
import os.path as osp
from typing import Any, Optional

from torch.utils.data import Dataset

__all__ = ['SampleLoadError', 'name_sample_errors']

#: Files the image check applies to (MMCV's image extensions).
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                    '.tiff', '.webp')
_PATH_KEYS = ('img_path', 'filename')


class SampleLoadError(RuntimeError):
    """A sample's file is missing, empty or not a readable image."""


def _file_problem(path: str) -> Optional[str]:
    """What is wrong with a local file, or None when it reads as an image."""
    if not osp.exists(path):
        return 'does not exist'
    try:
        with open(path, 'rb') as f:
            content = f.read()
    except OSError as err:
        return f'cannot be read ({err.strerror or err})'
    if not content:
        return 'is empty (0 bytes)'
    if not path.lower().endswith(IMAGE_EXTENSIONS):
        return None
    import mmcv
    try:
        image = mmcv.imfrombytes(content)
    except Exception:  # noqa: B902 - any decoder failure means the same
        image = None
    if image is None:
        return (f'is not a readable image ({len(content)} bytes: damaged, '
                'cut short or another format)')
    return None


class _NamedSampleErrors:
    """``prepare_data`` of one dataset, its failures naming the sample.

    Args:
        dataset (Dataset): A dataset with ``prepare_data`` and
            ``get_data_info`` (MMEngine's ``BaseDataset``).
        setting (str): The dataset's config setting, e.g.
            ``'train_dataloader.dataset'``.
    """

    def __init__(self, dataset: Dataset, setting: str) -> None:
        self.dataset = dataset
        self.setting = setting

    def _path(self, idx: int) -> Optional[str]:
        try:
            info = self.dataset.get_data_info(idx)
        except Exception:  # noqa: B902 - the original error matters
            return None
        for key in _PATH_KEYS:
            value = info.get(key) if isinstance(info, dict) else None
            if isinstance(value, str) and value:
                return value
        return None

    def __call__(self, idx: int) -> Any:
        try:
            # The class's method: the instance attribute is this wrapper.
            return type(self.dataset).prepare_data(self.dataset, idx)
        except SampleLoadError:
            raise
        except Exception as err:  # noqa: B902 - re-raised, named
            path = self._path(idx)
            problem = _file_problem(path) if path and '://' not in path \
                else None
            if problem is None:
                where = f' ({path})' if path else ''
                if hasattr(err, 'add_note'):
                    err.add_note(f'While loading sample {idx} of '
                                 f'`{self.setting}`{where}.')
                raise
            detail = str(err).strip().splitlines()
            kind = type(err).__qualname__
            if type(err).__module__ not in ('builtins', None):
                kind = f'{type(err).__module__}.{kind}'
            raise SampleLoadError(
                f'Sample {idx} of `{self.setting}` could not be loaded: '
                f'{path} {problem}. Replace the file, or remove it from the '
                'dataset (its folder or annotation file). '
                f"({kind}: {detail[-1] if detail else ''})") from err


def _children(dataset: Dataset, setting: str):
    """MMEngine's dataset wrappers and what they wrap."""
    inner = getattr(dataset, 'datasets', None)  # ConcatDataset
    if isinstance(inner, (list, tuple)):
        return [(d, f'{setting}.datasets[{i}]') for i, d in enumerate(inner)]
    inner = getattr(dataset, 'dataset', None)  # Repeat / ClassBalanced
    return [(inner,
             f'{setting}.dataset')] if isinstance(inner, Dataset) else []


def name_sample_errors(dataset: Dataset, setting: str) -> int:
    """Make ``dataset`` (and the datasets it wraps) name failing samples.

    Idempotent. Datasets without MMEngine's ``prepare_data`` /
    ``get_data_info`` are left as they are.

    Args:
        dataset (Dataset): The dataset of a dataloader.
        setting (str): Its config setting, e.g. ``'train_dataloader.dataset'``.

    Returns:
        int: The number of datasets guarded by this call.
    """
    current = getattr(dataset, '__dict__', {}).get('prepare_data')
    if isinstance(current, _NamedSampleErrors):
        return 0
    if callable(getattr(type(dataset), 'prepare_data', None)) and \
            callable(getattr(dataset, 'get_data_info', None)):
        dataset.prepare_data = _NamedSampleErrors(dataset, setting)
        return 1
    return sum(
        name_sample_errors(child, name)
        for child, name in _children(dataset, setting))
