# Copyright (c) mmenergykd contributors. All rights reserved.
"""Write a teacher bank crash-safely, in chunks, from several processes."""
import glob
import json
import os
import os.path as osp
import shutil
import zlib
from typing import Dict, List

import numpy as np

from .bank_format import (FORMAT, HEADER, IDENTITY_KEYS, LOGITS, PROGRESS,
                          VERSION, describe_differences, partial_path,
                          read_header, write_json_atomic)

__all__ = ['BankWriter']


class BankWriter:
    """Builds the bank ``path`` in ``path.partial/``, then renames it.

    The samples are cut into chunks of ``chunk_size`` consecutive indices;
    each process writes whole chunks into the shared ``logits.bin`` and
    marks each with ``progress/chunk_XXXXXX.json`` (its CRC-32) once the
    data is flushed. :meth:`finalize` checks every chunk against its CRC,
    marks the header complete and renames the directory. A resumed build
    skips the marked chunks.

    Args:
        path (str): The bank directory to make.
        header (dict): The bank's header (``teacher``, ``dataset``,
            ``pipeline``, ``data_preprocessor``, ``dataset_len``,
            ``num_views``, ``num_classes``, ``dtype``, ``chunk_size``).
    """

    def __init__(self, path: str, header: Dict):
        self.path = osp.normpath(path)
        self.tmp = partial_path(path)
        self.header = header
        self.shape = (header['dataset_len'], header['num_views'],
                      header['num_classes'])
        self.dtype = np.dtype(header['dtype'])
        self.chunk_size = int(header['chunk_size'])
        self._array = None

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
        header = dict(
            self.header,
            format=FORMAT,
            version=VERSION,
            shape=list(self.shape),
            nbytes=int(np.prod(self.shape)) * self.dtype.itemsize,
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
            keys = IDENTITY_KEYS + ('dataset_len', 'num_views', 'num_classes',
                                    'dtype', 'chunk_size')
            diff = describe_differences(old, {k: header[k] for k in keys})
            if diff:
                raise ValueError(
                    f'Cannot resume {self.tmp!r}: it was started for '
                    'another teacher / data / setting:\n  ' +
                    '\n  '.join(diff) + '\nDelete it to start again.')
            self.header = old
            return
        os.makedirs(osp.join(self.tmp, PROGRESS))
        with open(osp.join(self.tmp, LOGITS), 'wb') as f:
            f.truncate(header['nbytes'])
        write_json_atomic(osp.join(self.tmp, HEADER), header)
        self.header = header

    def done_chunks(self) -> List[int]:
        """The chunks already written (marked)."""
        names = glob.glob(osp.join(self.tmp, PROGRESS, 'chunk_*.json'))
        return sorted(int(osp.basename(n)[6:12]) for n in names)

    @property
    def array(self) -> np.ndarray:
        """The writable memory map of ``logits.bin`` (opened lazily)."""
        if self._array is None:
            self._array = np.memmap(
                osp.join(self.tmp, LOGITS),
                dtype=self.dtype,
                mode='r+',
                shape=self.shape)
        return self._array

    def write_chunk(self, chunk: int, logits: np.ndarray) -> None:
        """Store ``logits`` (samples of ``chunk``, views, classes), flush
        them, then mark the chunk done."""
        rows = self.chunk_range(chunk)
        expected = (len(rows), ) + self.shape[1:]
        if logits.shape != expected:
            raise ValueError(f'chunk {chunk}: logits of shape '
                             f'{logits.shape}, expected {expected}.')
        data = np.ascontiguousarray(logits, dtype=self.dtype)
        self.array[rows.start:rows.stop] = data
        self.array.flush()
        write_json_atomic(
            self._marker(chunk),
            dict(start=rows.start, stop=rows.stop, crc32=zlib.crc32(data)))

    def finalize(self) -> None:
        """Check every chunk, mark the bank complete, rename it to
        ``path``."""
        missing = sorted(set(range(self.num_chunks)) - set(self.done_chunks()))
        if missing:
            raise RuntimeError(
                f'{len(missing)} of {self.num_chunks} chunks are not written '
                f'yet (first: {missing[:5]}); run the build again with '
                '--resume.')
        array = np.memmap(
            osp.join(self.tmp, LOGITS),
            dtype=self.dtype,
            mode='r',
            shape=self.shape)
        for chunk in range(self.num_chunks):
            rows = self.chunk_range(chunk)
            crc = zlib.crc32(np.ascontiguousarray(array[rows.start:rows.stop]))
            with open(self._marker(chunk), encoding='utf-8') as f:
                marker = json.load(f)
            if crc != marker['crc32']:
                os.remove(self._marker(chunk))
                raise RuntimeError(
                    f'Chunk {chunk} of {self.tmp!r} does not match its '
                    'checksum (a write was lost); it is unmarked: run the '
                    'build again with --resume.')
        del array
        shutil.rmtree(osp.join(self.tmp, PROGRESS))
        write_json_atomic(
            osp.join(self.tmp, HEADER), dict(self.header, complete=True))
        os.replace(self.tmp, self.path)
