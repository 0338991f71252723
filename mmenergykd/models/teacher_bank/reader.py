# Copyright (c) mmenergykd contributors. All rights reserved.
"""Read a finished teacher bank: checks on open, logits by (sample, view)."""
import os.path as osp
from typing import Dict, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from .bank_format import (DTYPES, FORMAT, HEADER, LOGITS, VERSION,
                          describe_differences, partial_path, read_header,
                          rebuild_command)
from .expect import expect_from_config

__all__ = ['TeacherBank']


def _meta(sample: object, key: str) -> Optional[object]:
    metainfo = getattr(sample, 'metainfo', sample)
    return metainfo.get(key) if isinstance(metainfo, dict) else None


class TeacherBank:
    """The teacher's logits for every (sample, view) of a training set.

    Open with :meth:`open`, which refuses a bank that does not fit the
    config or is not complete. The array is memory-mapped read-only and
    re-opened after pickling or copying (no copy of the data is made).

    Args:
        path (str): The bank directory.
        header (dict): Its checked header.
    """

    #: Build the ``expect`` argument of :meth:`open` from a config.
    expect_from_config = staticmethod(expect_from_config)

    def __init__(self, path: str, header: Dict):
        self.path = path
        self.header = header
        self.num_samples, self.num_views, self.num_classes = header['shape']
        self.dtype = np.dtype(header['dtype'])
        self._array: Optional[np.ndarray] = None

    @classmethod
    def open(cls, path: str, *, expect: Dict) -> 'TeacherBank':
        """Open the bank at ``path`` after checking it fits ``expect``.

        Args:
            path (str): The bank directory (``--out`` of
                ``tools/build_teacher_bank.py``).
            expect (dict): What the bank must hold, from
                :func:`expect_from_config`.

        Returns:
            TeacherBank: The opened bank.

        Raises:
            FileNotFoundError: No bank at ``path`` (or only an interrupted
                build of it).
            ValueError: The bank is incomplete, truncated, of another format,
                or built with another teacher checkpoint, dataset, split,
                pipeline or preprocessing; the message names each difference
                and the command that rebuilds the bank.
        """
        rebuild = rebuild_command(path, expect)
        header = cls._checked_header(path, rebuild)
        differences = describe_differences(header, expect)
        if differences:
            raise ValueError(
                f'The teacher bank {path!r} does not fit this config:\n  ' +
                '\n  '.join(differences) +
                f'\nRebuild it for this config: {rebuild}')
        return cls(path, header)

    @staticmethod
    def _checked_header(path: str, rebuild: str) -> Dict:
        if not osp.isfile(osp.join(path, HEADER)):
            hint = ''
            if osp.isdir(partial_path(path)):
                hint = (f' An interrupted build is at '
                        f'{partial_path(path)!r}: finish it with '
                        f'`{rebuild} --resume`.')
            raise FileNotFoundError(
                f'No teacher bank at {path!r} (no {HEADER}).{hint} Build it '
                f'with `{rebuild}`.')
        try:
            header = read_header(path)
        except ValueError as err:
            raise ValueError(f'The teacher bank header {path}/{HEADER} is '
                             f'not valid JSON ({err}). Rebuild it: '
                             f'{rebuild}') from err
        if header.get('format') != FORMAT or header.get('version') != VERSION:
            raise ValueError(
                f'{path!r} is not a version-{VERSION} teacher bank (format '
                f"{header.get('format')!r}, version "
                f"{header.get('version')!r}). Rebuild it: {rebuild}")
        if header.get('complete') is not True:
            raise ValueError(
                f'The teacher bank {path!r} is not complete (its build did '
                f'not finish); it is never used. Rebuild it: {rebuild}')
        if header.get('dtype') not in DTYPES.values():
            raise ValueError(f"The teacher bank {path!r} has dtype "
                             f"{header.get('dtype')!r}. Rebuild it: "
                             f'{rebuild}')
        nbytes = int(np.prod(header['shape'])) * np.dtype(
            header['dtype']).itemsize
        logits = osp.join(path, LOGITS)
        size = osp.getsize(logits) if osp.isfile(logits) else None
        if nbytes != header.get('nbytes') or size != nbytes:
            raise ValueError(
                f'The teacher bank {path!r} is truncated or damaged: {LOGITS} '
                f'has {size} bytes, the header says {nbytes} (shape '
                f"{header['shape']}, {header['dtype']}). It is never used. "
                f'Rebuild it: {rebuild}')
        return header

    @property
    def array(self) -> np.ndarray:
        """The read-only memory map, shape (samples, views, classes)."""
        if self._array is None:
            self._array = np.memmap(
                osp.join(self.path, LOGITS),
                dtype=self.dtype,
                mode='r',
                shape=tuple(self.header['shape']))
        return self._array

    def __getstate__(self) -> Dict:
        state = self.__dict__.copy()
        state['_array'] = None
        return state

    def __deepcopy__(self, memo: Dict) -> 'TeacherBank':
        return TeacherBank(self.path, self.header)

    def _indices(self, data_samples: Sequence) -> Tuple[np.ndarray, ...]:
        rows, views = [], []
        for sample in data_samples:
            idx, view = _meta(sample,
                              'sample_idx'), _meta(sample, 'teacher_view')
            num_views = _meta(sample, 'teacher_num_views')
            if idx is None or view is None:
                raise ValueError(
                    'A data sample has no `sample_idx` / `teacher_view` in '
                    'its metainfo: the training pipeline must record teacher '
                    'views (mmenergykd.datasets.recording_pipeline).')
            if num_views is not None and int(num_views) != self.num_views:
                raise ValueError(
                    f'The training pipeline makes {num_views} views per '
                    f'image, the teacher bank {self.path!r} holds '
                    f'{self.num_views}: it was built for another pipeline '
                    'or image size. Rebuild it with tools/'
                    'build_teacher_bank.py.')
            if not 0 <= int(idx) < self.num_samples or \
                    not 0 <= int(view) < self.num_views:
                raise ValueError(
                    f'The teacher bank {self.path!r} holds samples [0, '
                    f'{self.num_samples}) x views [0, {self.num_views}); '
                    f'asked for sample {idx}, view {view}.')
            rows.append(int(idx))
            views.append(int(view))
        return np.asarray(rows), np.asarray(views)

    def lookup(self,
               data_samples: Sequence,
               device: Union[str, torch.device] = 'cpu') -> Tensor:
        """The teacher's logits for a batch, from each data sample's
        ``sample_idx`` and ``teacher_view`` metainfo.

        Args:
            data_samples (Sequence): The batch's data samples
                (``DataSample`` or metainfo dicts).
            device (str | torch.device): Where to put the result.

        Returns:
            Tensor: (B, num_classes) float32 logits.
        """
        rows, views = self._indices(data_samples)
        logits = torch.from_numpy(
            np.ascontiguousarray(self.array[rows, views]))
        return logits.to(device=device, dtype=torch.float32)

    def all_logits(self, chunk: int = 1024) -> Iterator[Tuple[Tensor, Tensor]]:
        """Every stored logit, ``chunk`` samples at a time.

        Yields:
            tuple[Tensor, Tensor]: The sample indices (n,) and their logits
            (n, num_views, num_classes), float32 on the CPU.
        """
        for start in range(0, self.num_samples, chunk):
            stop = min(start + chunk, self.num_samples)
            block = np.array(self.array[start:stop], dtype=np.float32)
            yield torch.arange(start, stop), torch.from_numpy(block)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}({self.path!r}, samples='
                f'{self.num_samples}, views={self.num_views}, classes='
                f'{self.num_classes}, dtype={self.dtype.name})')
