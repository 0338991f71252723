# Copyright (c) mmenergykd contributors. All rights reserved.
"""The on-disk layout of a teacher bank.

A bank is a directory ``BANK/``:

- ``header.json``: what the bank holds and how it was made: ``format``,
  ``version``, ``teacher`` (``checkpoint_sha256``, ``model``), ``dataset``
  (the dataset config without its pipeline), ``dataset_len``, ``pipeline``
  (the training pipeline's transforms and their settings),
  ``data_preprocessor``, ``num_views``, ``num_classes``, ``dtype``,
  ``shape``, ``nbytes``, ``index``, ``config`` and ``cfg_options`` (what
  built it), ``checksums`` (the CRC-32 of every chunk of every array file,
  see :mod:`.integrity`) and the completeness marker ``complete``.
- ``logits.bin`` (``kind: exact``): the teacher's logits, a C-order array
  of ``shape`` ``(dataset_len, num_views, num_classes)`` and ``dtype``
  (``float16`` or ``float32``): the index is dense, row
  ``sample_idx * num_views + view``.
- ``kind: sampled`` (``RandomResizedCrop``: ``num_crops`` fixed crops per
  image, ``view_seed``): ``topk_values.bin`` (``dtype``) and
  ``topk_indices.bin`` (int16 / int32), both (samples, views, ``topk``),
  and ``lse.bin`` (float32, (samples, views)): ``logsumexp(logits /
  energy_temperature)``, so the energy ``-T_E * lse`` is exact.

``arrays`` in the header lists each file with its dtype, shape and size.

While it is built the directory is ``BANK.partial/`` (``complete: false``,
plus ``progress/chunk_*.json``, one per finished chunk of samples); it is
renamed to ``BANK`` only when every chunk is written and checked.
Version 2 added ``checksums``; a version-1 bank cannot prove its contents
and is refused (rebuild it).
"""
import json
import os.path as osp
import shlex
from typing import Dict, List, Optional, Tuple

import numpy as np

from mmenergykd.utils.atomic_files import atomic_write_text

__all__ = [
    'FORMAT', 'VERSION', 'HEADER', 'LOGITS', 'PROGRESS', 'IDENTITY_KEYS',
    'DTYPES', 'layout', 'arrays_entry', 'partial_path', 'read_header',
    'write_json_atomic', 'describe_differences', 'build_command'
]

FORMAT = 'mmenergykd-teacher-bank'
VERSION = 2
HEADER = 'header.json'
LOGITS = 'logits.bin'
PROGRESS = 'progress'
#: Header fields that must equal the training config's (see
#: :func:`~mmenergykd.models.teacher_bank.expect_from_config`).
IDENTITY_KEYS = ('teacher', 'dataset', 'pipeline', 'data_preprocessor')
#: ``--dtype`` setting -> NumPy dtype name.
DTYPES = {'fp16': 'float16', 'fp32': 'float32'}


def layout(header: Dict) -> Dict[str, Tuple[str, str, Tuple[int, ...]]]:
    """``name -> (file, dtype, shape)`` of the bank's arrays."""
    num, views, classes = header['shape']
    if header.get('kind', 'exact') == 'exact':
        return dict(logits=(LOGITS, header['dtype'], (num, views, classes)))
    k = int(header['topk'])
    index_dtype = 'int16' if classes <= 32767 else 'int32'
    return dict(
        topk_values=('topk_values.bin', header['dtype'], (num, views, k)),
        topk_indices=('topk_indices.bin', index_dtype, (num, views, k)),
        lse=('lse.bin', 'float32', (num, views)))


def arrays_entry(header: Dict) -> Dict[str, Dict]:
    """The header's ``arrays`` field for its layout."""
    return {
        name:
        dict(
            file=file,
            dtype=dtype,
            shape=list(shape),
            nbytes=int(np.prod(shape)) * np.dtype(dtype).itemsize)
        for name, (file, dtype, shape) in layout(header).items()
    }


def partial_path(path: str) -> str:
    """Where the bank ``path`` is built until it is complete."""
    return osp.normpath(path) + '.partial'


def read_header(folder: str) -> dict:
    """The parsed ``header.json`` of ``folder``."""
    with open(osp.join(folder, HEADER), encoding='utf-8') as f:
        return json.load(f)


def write_json_atomic(path: str, obj: object) -> None:
    """Write ``obj`` as JSON to ``path`` via a temporary file and a rename,
    so that a reader sees the old file or the whole new one."""
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True))


def _differences(bank: object, want: object, where: str,
                 out: List[str]) -> None:
    if isinstance(bank, dict) and isinstance(want, dict):
        for key in sorted(set(bank) | set(want)):
            _differences(
                bank.get(key, '<unset>'), want.get(key, '<unset>'),
                f'{where}.{key}', out)
    elif isinstance(bank, list) and isinstance(want, list) \
            and len(bank) == len(want):
        for i, (b, w) in enumerate(zip(bank, want)):
            _differences(b, w, f'{where}[{i}]', out)
    elif bank != want:
        out.append(f'{where}: bank {bank!r} vs config {want!r}')


def describe_differences(header: Dict, expect: Dict) -> List[str]:
    """One line per field where the bank's ``header`` and ``expect``
    differ (only the fields present in ``expect``)."""
    out: List[str] = []
    for key in sorted(expect):
        if key.startswith('_'):
            continue
        _differences(header.get(key, '<unset>'), expect[key], key, out)
    return out


def _option_value(value: object) -> str:
    """``value`` as MMEngine's ``DictAction`` reads it back."""
    if isinstance(value, (list, tuple)):
        inner = ','.join(_option_value(v) for v in value)
        return f'[{inner}]' if isinstance(value, list) else f'({inner})'
    return str(value)


def _settings_flags(header: Dict, options: bool) -> List[str]:
    """The builder's flags that reproduce ``header``'s settings (with
    ``options``, the build's ``--cfg-options`` too)."""
    dtypes = {v: k for k, v in DTYPES.items()}
    flags = ['--dtype', dtypes.get(header.get('dtype'), 'fp16')]
    if int(header.get('chunk_size', 64)) != 64:
        flags += ['--chunk-size', str(header['chunk_size'])]
    if header.get('kind') == 'sampled':
        flags += [
            '--sampled-crops',
            str(header['num_crops']), '--view-seed',
            str(header['view_seed']), '--topk',
            str(header['topk']), '--energy-temperature',
            str(header['energy_temperature'])
        ]
    options = header.get('cfg_options') if options else None
    if options:
        flags.append('--cfg-options')
        flags += [f'{k}={_option_value(v)}' for k, v in options.items()]
    return flags


def build_command(path: str,
                  header: Optional[Dict] = None,
                  config: Optional[str] = None,
                  resume: bool = False,
                  remove: Optional[str] = None) -> str:
    """The shell command that builds (or repairs) the bank ``path``.

    Args:
        path (str): The bank (``--out``).
        header (dict, optional): A header whose settings (dtype, chunk
            size, sampled-bank settings) the command keeps; its ``config``
            is used when ``config`` is None, then with the build's
            ``--cfg-options``.
        config (str, optional): The config to build from (as it is: the
            header's ``--cfg-options`` belong to the header's config).
        resume (bool): Add ``--resume`` (finish an interrupted build, or
            check a finished bank and rebuild only its damaged chunks).
        remove (str, optional): A folder to delete first (``rm -r``).

    Returns:
        str: The command, quoted for a POSIX shell.
    """
    header = header or {}
    own = config is None or config == header.get('config')
    config = config or header.get('config') or 'CONFIG'
    words = ['python', 'tools/build_teacher_bank.py', config, '--out', path]
    if header:
        words += _settings_flags(header, own)
    if resume:
        words.append('--resume')
    command = ' '.join(shlex.quote(w) for w in words)
    if remove:
        command = f'rm -r {shlex.quote(remove)} && {command}'
    return command
