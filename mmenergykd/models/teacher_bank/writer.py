# Copyright (c) mmenergykd contributors. All rights reserved.
"""Write a teacher bank crash-safely, in chunks, from several processes."""
import glob
import json
import os
import os.path as osp
import shutil
import zlib
from typing import Dict, List, Optional, Union

import numpy as np
from torch import Tensor

from mmenergykd.utils.atomic_files import fsync_path
from .bank_format import (FORMAT, HEADER, IDENTITY_KEYS, PROGRESS, VERSION,
                          arrays_entry, describe_differences, layout,
                          partial_path, read_header, write_json_atomic)
from .topk import encode_topk, topk_kl

__all__ = ['BankWriter']

# Settings a resumed build must share with the interrupted one.
_RESUME_KEYS = IDENTITY_KEYS + ('dataset_len', 'num_views', 'num_classes',
                                'dtype', 'chunk_size', 'kind', 'topk',
                                'energy_temperature', 'num_crops', 'view_seed')


class BankWriter:
    """Builds the bank ``path`` in ``path.partial/``, then renames it.

    The samples are cut into chunks of ``chunk_size`` consecutive indices;
    each process writes whole chunks into the shared array files and marks
    each with ``progress/chunk_XXXXXX.json`` (its CRC-32 and optional
    statistics, summed into the header's ``stats``) once the data is
    flushed. :meth:`finalize` checks every chunk against its CRC, marks the
    header complete and renames the directory. A resumed build skips the
    marked chunks.

    Args:
        path (str): The bank directory to make.
        header (dict): The bank's header (``teacher``, ``dataset``,
            ``pipeline``, ``data_preprocessor``, ``dataset_len``,
            ``num_views``, ``num_classes``, ``dtype``, ``chunk_size``,
            ``kind``; a sampled bank also ``topk``, ``energy_temperature``,
            ``num_crops``, ``view_seed``).
    """

    def __init__(self, path: str, header: Dict):
        self.path = osp.normpath(path)
        self.tmp = partial_path(path)
        self.shape = (header['dataset_len'], header['num_views'],
                      header['num_classes'])
        self.header = dict(header, shape=list(self.shape))
        self.header.setdefault('kind', 'exact')
        self.layout = layout(self.header)
        self.dtype = np.dtype(header['dtype'])
        self.chunk_size = int(header['chunk_size'])
        self._arrays: Optional[Dict[str, np.ndarray]] = None

    @property
    def num_chunks(self) -> int:
        """How many chunks of samples the bank has."""
        return -(-self.shape[0] // self.chunk_size)

    def chunk_range(self, chunk: int) -> range:
        """The sample indices of ``chunk``."""
        start = chunk * self.chunk_size
        return range(start, min(start + self.chunk_size, self.shape[0]))

    def _marker(self, chunk: int) -> str:
        return osp.join(self.tmp, PROGRESS, f'chunk_{chunk:06d}.json')

    def create(self, resume: bool = False) -> None:
        """Start the build, or with ``resume`` continue an interrupted one
        (refused when it was started for another header)."""
        arrays = arrays_entry(self.header)
        header = dict(
            self.header,
            format=FORMAT,
            version=VERSION,
            arrays=arrays,
            nbytes=sum(a['nbytes'] for a in arrays.values()),
            index='dense: row sample_idx * num_views + view',
            complete=False)
        if osp.exists(self.path):
            raise FileExistsError(
                f'{self.path!r} exists; delete it or choose another --out.')
        if osp.isdir(self.tmp):
            if not resume:
                raise FileExistsError(
                    f'An interrupted build is at {self.tmp!r}: pass --resume '
                    'to finish it, or delete it to start again.')
            old = read_header(self.tmp)
            diff = describe_differences(
                old, {k: header.get(k, '<unset>')
                      for k in _RESUME_KEYS})
            if diff:
                raise ValueError(
                    f'Cannot resume {self.tmp!r}: it was started for '
                    'another teacher / data / setting:\n  ' +
                    '\n  '.join(diff) + '\nDelete it to start again.')
            self.header = old
            return
        os.makedirs(osp.join(self.tmp, PROGRESS))
        for entry in arrays.values():
            with open(osp.join(self.tmp, entry['file']), 'wb') as f:
                f.truncate(entry['nbytes'])
        write_json_atomic(osp.join(self.tmp, HEADER), header)
        self.header = header

    def done_chunks(self) -> List[int]:
        """The chunks already written (marked)."""
        names = glob.glob(osp.join(self.tmp, PROGRESS, 'chunk_*.json'))
        return sorted(int(osp.basename(n)[6:12]) for n in names)

    def _open(self, mode: str) -> Dict[str, np.ndarray]:
        return {
            name:
            np.memmap(
                osp.join(self.tmp, file), dtype=dtype, mode=mode, shape=shape)
            for name, (file, dtype, shape) in self.layout.items()
        }

    @property
    def arrays(self) -> Dict[str, np.ndarray]:
        """Writable memory maps of the bank's arrays (opened lazily)."""
        if self._arrays is None:
            self._arrays = self._open('r+')
        return self._arrays

    @property
    def array(self) -> np.ndarray:
        """The logits array of an exact bank."""
        return self.arrays['logits']

    @staticmethod
    def _crc(arrays: Dict[str, np.ndarray], rows: range) -> int:
        crc = 0
        for name in sorted(arrays):
            crc = zlib.crc32(
                np.ascontiguousarray(arrays[name][rows.start:rows.stop]), crc)
        return crc

    def encode(self, logits: Tensor, stats: Dict) -> Dict[str, np.ndarray]:
        """The bank's arrays for a batch of float32 logits (B, C); a
        sampled bank adds the KL of its top-k reconstruction to ``stats``
        (``views``, ``kl_sum`` per temperature)."""
        header = self.header
        if header['kind'] == 'exact':
            return dict(logits=logits.numpy())
        temperature = header['energy_temperature']
        values, indices, lse = encode_topk(logits, header['topk'], temperature)
        kl = topk_kl(logits, header['topk'], temperature,
                     header['kl_temperatures'])
        stats['views'] = stats.get('views', 0) + len(logits)
        sums = stats.setdefault('kl_sum', {})
        for t, value in kl.items():
            sums[t] = sums.get(t, 0.0) + float(value.double().sum())
        return dict(
            topk_values=values.numpy(),
            topk_indices=indices.numpy(),
            lse=lse.numpy())

    def write_chunk(self,
                    chunk: int,
                    data: Union[np.ndarray, Dict[str, np.ndarray]],
                    stats: Optional[Dict] = None) -> None:
        """Store ``data`` (the logits (samples of ``chunk``, views,
        classes), or a dict of every array's rows), flush it, then mark the
        chunk done (with ``stats``, numbers summed over chunks)."""
        rows = self.chunk_range(chunk)
        if not isinstance(data, dict):
            data = dict(logits=data)
        for name, (_, dtype, shape) in self.layout.items():
            expected = (len(rows), ) + tuple(shape[1:])
            if data[name].shape != expected:
                raise ValueError(f'chunk {chunk}: {name} of shape '
                                 f'{data[name].shape}, expected {expected}.')
            self.arrays[name][rows.start:rows.stop] = data[name].astype(dtype)
            self.arrays[name].flush()
        write_json_atomic(
            self._marker(chunk),
            dict(
                start=rows.start,
                stop=rows.stop,
                crc32=self._crc(self.arrays, rows),
                stats=stats or {}))

    def finalize(self) -> None:
        """Check every chunk, mark the bank complete, rename it to
        ``path``."""
        missing = sorted(set(range(self.num_chunks)) - set(self.done_chunks()))
        if missing:
            raise RuntimeError(
                f'{len(missing)} of {self.num_chunks} chunks are not written '
                f'yet (first: {missing[:5]}); run the build again with '
                '--resume.')
        arrays = self._open('r')
        stats: Dict = {}
        for chunk in range(self.num_chunks):
            with open(self._marker(chunk), encoding='utf-8') as f:
                marker = json.load(f)
            _add_into(stats, marker.get('stats', {}))
            if self._crc(arrays, self.chunk_range(chunk)) != marker['crc32']:
                os.remove(self._marker(chunk))
                raise RuntimeError(
                    f'Chunk {chunk} of {self.tmp!r} does not match its '
                    'checksum (a write was lost); it is unmarked: run the '
                    'build again with --resume.')
        del arrays
        shutil.rmtree(osp.join(self.tmp, PROGRESS))
        write_json_atomic(
            osp.join(self.tmp, HEADER),
            dict(self.header, stats=stats, complete=True))
        os.replace(self.tmp, self.path)
        fsync_path(osp.dirname(osp.abspath(self.path)))


def _add_into(total: Dict, part: Dict) -> None:
    """Sum the numbers of the nested dict ``part`` into ``total``."""
    for key, value in part.items():
        if isinstance(value, dict):
            _add_into(total.setdefault(key, {}), value)
        else:
            total[key] = total.get(key, 0) + value
