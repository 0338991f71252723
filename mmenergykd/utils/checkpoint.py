# Copyright (c) mmenergykd contributors. All rights reserved.
"""Checkpoint loading that never executes pickled code.

PyTorch >= 2.6 loads with ``weights_only=True`` by default, while MMEngine
0.10.7 pickles its message hub (``HistoryBuffer`` objects holding numpy
arrays) into every training checkpoint, so ``resume``, ``load_from`` and
``runner.test()`` fail with ``UnpicklingError``.  Instead of turning
``weights_only`` off (which would let a crafted file run code), this module
keeps ``weights_only=True`` and allow-lists exactly the classes MMEngine's own
checkpoints contain.  It registers the loader for local paths and HTTP(S) URLs
with :class:`mmengine.runner.CheckpointLoader`, the extension point MMEngine
provides for this.
"""
import os
import os.path as osp
import pickle
import socket
from typing import Any, Callable, Container, List, Optional, Union
from urllib.error import URLError

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader
from mmengine.runner import checkpoint as mmengine_checkpoint

__all__ = [
    'CheckpointSafetyError', 'CorruptCheckpointError',
    'safe_globals_for_mmengine', 'safe_torch_load', 'load_local_checkpoint',
    'load_url_checkpoint', 'load_from_http_safely', 'fillable_bn_counter',
    'register_safe_checkpoint_loaders', 'DOWNLOAD_TIMEOUT_S'
]

#: Seconds a checkpoint download may wait for the server to answer.
DOWNLOAD_TIMEOUT_S = 60.0


class CheckpointSafetyError(RuntimeError):
    """A checkpoint holds pickled objects that are not plain data."""


class CorruptCheckpointError(ValueError):
    """A file is not a readable ``torch.save`` checkpoint."""


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` for unpickling, limited to HistoryBuffer's statistics."""
    # The four built-in statistics are registered lazily (by the first
    # HistoryBuffer constructed), so they are named here as well.
    allowed = {'min', 'max', 'current', 'mean'}
    allowed.update(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and isinstance(name, str) and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'Weights only load failed: getattr({obj!r}, {name!r}) is not '
        'allowed in a checkpoint.')


def safe_globals_for_mmengine() -> List[Any]:
    """Globals an MMEngine training checkpoint may contain.

    Returns:
        list: The classes and functions added to ``torch.load``'s
        weights-only allow-list: MMEngine's ``HistoryBuffer`` (the message
        hub), numpy arrays, dtypes and scalars, and a restricted stand-in
        for ``builtins.getattr``: ``HistoryBuffer`` pickles its table of
        statistic methods as ``getattr(HistoryBuffer, 'mean')`` etc.; the
        stand-in returns exactly those methods and refuses every other
        attribute (a plain ``getattr`` would let a pickle run property
        getters of allow-listed objects).
    """
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    allowed: List[Any] = [
        HistoryBuffer, np.ndarray, np.dtype, multiarray._reconstruct,
        multiarray.scalar, (_history_buffer_getattr, 'builtins.getattr')
    ]
    # numpy >= 1.25 pickles dtypes through their concrete classes.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType')
        ]
    return allowed


def safe_torch_load(f: Union[str, os.PathLike, Any],
                    map_location: Any = 'cpu',
                    source: Optional[str] = None) -> Any:
    """``torch.load`` with ``weights_only=True`` and MMEngine's allow-list.

    Args:
        f: A path or a file-like object.
        map_location: Passed to ``torch.load``.
        source (str, optional): How to name the file in errors.

    Returns:
        The unpickled object (tensors, containers, numbers, strings and the
        allow-listed MMEngine / numpy objects only).

    Raises:
        CheckpointSafetyError: The file holds other pickled objects (code
            that would run on load is never run).
        CorruptCheckpointError: The file is empty, cut short (e.g. a run
            killed while saving) or not a ``torch.save`` file.
    """
    source = source or str(f)
    try:
        with torch.serialization.safe_globals(safe_globals_for_mmengine()):
            return torch.load(f, map_location=map_location, weights_only=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError,
            OSError) as err:
        message = str(err)
        # A cut-short `torch.save` file fails inside torch's zip reader
        # (RuntimeError, or OSError 'Invalid argument'), or, when fewer bytes
        # than the zip magic are left, inside the pickle reader: that is
        # damage, not a refused pickle.
        corrupt = _shorter_than_zip_magic(f) or isinstance(
            err, (EOFError, OSError))
        unsafe = not corrupt and isinstance(err, pickle.UnpicklingError) \
            and 'weights only load failed' in message.lower()
        if unsafe:
            raise CheckpointSafetyError(
                f'Refused to load {source!r}: it contains pickled objects '
                'that are not plain tensors / containers, and unpickling '
                'them could execute code. mmenergykd only loads checkpoints '
                'with `weights_only=True`. If you trust the file, re-save '
                'its state_dict with plain tensors (e.g. '
                "`torch.save({'state_dict': sd}, path)`). "
                f'Details: {message.splitlines()[-1]}') from err
        if not corrupt and isinstance(err, RuntimeError) and not any(
                s in message
                for s in ('zip archive', 'PytorchStreamReader', 'zip file')):
            raise
        raise CorruptCheckpointError(
            f'{source!r} is not a readable PyTorch checkpoint: it is '
            'empty, cut short (e.g. by a run killed while saving) or not '
            'a `torch.save` file. Use another checkpoint (for a killed '
            'run, `tools/train.py CONFIG --resume` picks the newest '
            f'complete one). Details: {type(err).__name__}: '
            f'{message.splitlines()[0] if message else ""}') from err


def _shorter_than_zip_magic(f: Any) -> bool:
    """Whether the file at ``f`` holds only a prefix of the 4-byte zip magic
    that starts every ``torch.save`` file (or nothing)."""
    if not isinstance(f, (str, os.PathLike)):
        return False
    try:
        with open(f, 'rb') as stream:
            head = stream.read(4)
    except OSError:
        return False
    return len(head) < 4 and b'PK\x03\x04'.startswith(head)


def fillable_bn_counter(key: str, present: Container[str]) -> bool:
    """Whether a missing ``key`` is a BatchNorm ``num_batches_tracked`` that
    PyTorch's strict ``load_state_dict`` fills with 0 itself.

    Checkpoints saved by PyTorch < 0.4.1 (the CRD CIFAR zoo was trained on
    0.4.0) have no such key; it only counts as fillable when the rest of
    that BatchNorm (its ``running_mean``) is among the ``present`` keys.
    """
    suffix = 'num_batches_tracked'
    return key.endswith('.' + suffix) and \
        key[:-len(suffix)] + 'running_mean' in present


def load_local_checkpoint(filename: str, map_location: Any = None) -> Any:
    """Checkpoint loader for local paths (MMEngine scheme ``''``).

    Args:
        filename (str): Local file path.
        map_location: Passed to ``torch.load``.

    Returns:
        The loaded checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return safe_torch_load(filename, map_location=map_location)


def load_url_checkpoint(filename: str,
                        map_location: Any = None,
                        model_dir: Optional[str] = None,
                        progress: bool = True) -> Any:
    """Checkpoint loader for ``http://`` and ``https://`` URLs.

    The file is cached in ``$TORCH_HOME/hub/checkpoints`` (or ``model_dir``)
    and loaded with :func:`safe_torch_load`.

    Args:
        filename (str): The URL.
        map_location: Passed to ``torch.load``.
        model_dir (str, optional): Cache directory.
        progress (bool): Show a download progress bar.

    Returns:
        The loaded checkpoint.

    Raises:
        ConnectionError: The URL cannot be reached; the message suggests
            downloading the file and passing a local path.
    """
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(filename.split('?')[0]))
    if not osp.isfile(cached):
        # torch.hub opens the URL without a timeout: a server or proxy that
        # accepts the connection and never answers would hang the run.
        previous_timeout = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
        try:
            torch.hub.download_url_to_file(filename, cached, progress=progress)
        except (URLError, OSError) as err:
            raise ConnectionError(
                f'Could not download the checkpoint {filename!r} ({err}). '
                'Download it on a machine with internet access and pass the '
                'local file path instead (for a teacher: set `teacher_ckpt` '
                'to the path, e.g. --cfg-options '
                'model.teacher_ckpt=/path/to/file.pth).') from err
        finally:
            socket.setdefaulttimeout(previous_timeout)
    return safe_torch_load(
        cached,
        map_location=map_location,
        source=f'{filename} (cached as {cached}; delete the cached file to '
        'download it again)')


def load_from_http_safely(filename: str,
                          map_location: Any = None,
                          model_dir: Optional[str] = None,
                          progress: bool = False) -> Any:
    """:func:`load_url_checkpoint` in place of MMEngine's ``load_from_http``.

    Same behaviour under ``torch.distributed`` as MMEngine's: rank 0
    downloads first, the other ranks read the cached file after a barrier.

    Args:
        filename (str): The URL.
        map_location: Passed to ``torch.load``.
        model_dir (str, optional): Cache directory.
        progress (bool): Show a download progress bar.

    Returns:
        The loaded checkpoint.
    """
    rank, world_size = get_dist_info()
    checkpoint = None
    if rank == 0:
        checkpoint = load_url_checkpoint(
            filename, map_location, model_dir=model_dir, progress=progress)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = load_url_checkpoint(
                filename, map_location, model_dir=model_dir, progress=progress)
    return checkpoint


def register_safe_checkpoint_loaders() -> None:
    """Register the weights-only loaders with MMEngine's CheckpointLoader.

    Every ``runner.load_checkpoint`` / ``resume`` / ``load_from`` and every
    ``init_cfg=dict(type='Pretrained')`` of a local path or an HTTP(S) URL
    then goes through :func:`safe_torch_load`.

    MMEngine's model-zoo schemes (``torchvision://``, ``modelzoo://``,
    ``open-mmlab://``, ``openmmlab://``, ``mmcls://``) map their name to a
    URL and download it with ``mmengine.runner.checkpoint.load_from_http``,
    whose ``torch.hub`` loader unpickles with ``weights_only=False``. That
    one function is replaced by :func:`load_from_http_safely`, so those
    schemes keep their name-to-URL mapping and load weights-only too.
    """
    # MMEngine logs "Loads checkpoint by {name[10:]} backend": the loaders
    # carry the names of the MMEngine loaders they replace, so the log line
    # reads as MMEngine's own ("local backend", "http backend").
    loaders: List[tuple] = [('', load_local_checkpoint, 'load_from_local'),
                            (('http://', 'https://'), load_from_http_safely,
                             'load_from_http')]
    for prefixes, loader, name in loaders:
        CheckpointLoader.register_scheme(
            prefixes=prefixes,
            loader=_as_scheme_loader(loader, name),
            force=True)
    mmengine_checkpoint.load_from_http = load_from_http_safely


def _as_scheme_loader(loader: Callable, name: str) -> Callable:
    """``loader`` with MMEngine's scheme-loader signature, named ``name``."""

    def scheme_loader(filename: str, map_location: Any = None) -> Any:
        return loader(filename, map_location=map_location)

    scheme_loader.__name__ = scheme_loader.__qualname__ = name
    scheme_loader.__doc__ = loader.__doc__
    return scheme_loader
