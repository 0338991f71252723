# Copyright (c) mmenergykd contributors. All rights reserved.
"""Read a finished teacher bank: checks on open, logits by (sample, view)."""
import os.path as osp
from typing import Dict, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from .bank_format import (DTYPES, FORMAT, HEADER, VERSION, arrays_entry,
                          describe_differences, layout, partial_path,
                          read_header, rebuild_command)
from .expect import expect_from_config
from .topk import reconstruct_logits

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
        self.kind = header.get('kind', 'exact')
        self._arrays: Optional[Dict[str, np.ndarray]] = None

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
        for name, entry in arrays_entry(header).items():
            file = osp.join(path, entry['file'])
            size = osp.getsize(file) if osp.isfile(file) else None
            if header.get('arrays', {}).get(name) != entry or \
                    size != entry['nbytes']:
                raise ValueError(
                    f'The teacher bank {path!r} is truncated or damaged: '
                    f"{entry['file']} has {size} bytes, the header says "
                    f"{entry['nbytes']} (shape {entry['shape']}, "
                    f"{entry['dtype']}). It is never used. Rebuild it: "
                    f'{rebuild}')
        return header

    @property
    def arrays(self) -> Dict[str, np.ndarray]:
        """Read-only memory maps of the bank's arrays (``logits``; or
        ``topk_values``, ``topk_indices``, ``lse``)."""
        if self._arrays is None:
            self._arrays = {
                name:
                np.memmap(
                    osp.join(self.path, file),
                    dtype=dtype,
                    mode='r',
                    shape=shape)
                for name, (file, dtype, shape) in layout(self.header).items()
            }
        return self._arrays

    @property
    def array(self) -> np.ndarray:
        """The logits of an exact bank, (samples, views, classes)."""
        if self.kind != 'exact':
            raise AttributeError(f'{self!r} is a {self.kind} bank: it holds '
                                 'top-k logits; use lookup / all_logits.')
        return self.arrays['logits']

    def recording_kwargs(self) -> Dict:
        """The view settings for ``recording_pipeline(pipeline,
        **kwargs)`` (a sampled bank's ``num_crops`` and ``view_seed``)."""
        if self.kind == 'exact':
            return {}
        return dict(
            num_crops=self.header['num_crops'],
            view_seed=self.header['view_seed'])

    def check_energy_temperature(self, temperature: float) -> None:
        """Refuse a sampled bank whose exact energy is at another T_E."""
        stored = self.header.get('energy_temperature')
        if self.kind == 'sampled' and float(temperature) != stored:
            raise ValueError(
                f'The sampled teacher bank {self.path!r} holds the energy at '
                f'T_E = {stored}, the config uses {temperature}. Rebuild it '
                'with tools/build_teacher_bank.py --energy-temperature '
                f'{temperature}.')

    def _logits(self, rows, views) -> Tensor:
        """float32 logits of ``arrays[rows, views]`` (NumPy indices)."""
        arrays = self.arrays
        if self.kind == 'exact':
            return torch.from_numpy(
                np.array(arrays['logits'][rows, views], dtype=np.float32))
        return reconstruct_logits(
            torch.from_numpy(
                np.array(arrays['topk_values'][rows, views], np.float32)),
            torch.from_numpy(
                np.array(arrays['topk_indices'][rows, views], np.int64)),
            torch.from_numpy(np.array(arrays['lse'][rows, views])),
            self.num_classes, self.header['energy_temperature'])

    def __getstate__(self) -> Dict:
        state = self.__dict__.copy()
        state['_arrays'] = None
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
            Tensor: (B, num_classes) float32 logits (a sampled bank: the
            stored top-k, the rest filled so that the energy at
            ``energy_temperature`` is the stored one; see
            :func:`reconstruct_logits`).
        """
        rows, views = self._indices(data_samples)
        return self._logits(rows, views).to(device=device)

    def all_logits(self, chunk: int = 1024) -> Iterator[Tuple[Tensor, Tensor]]:
        """Every stored logit, ``chunk`` samples at a time.

        Yields:
            tuple[Tensor, Tensor]: The sample indices (n,) and their logits
            (n, num_views, num_classes), float32 on the CPU.
        """
        for start in range(0, self.num_samples, chunk):
            stop = min(start + chunk, self.num_samples)
            yield torch.arange(start, stop), self._logits(
                slice(start, stop), slice(None))

    def __repr__(self) -> str:
        return (f'{type(self).__name__}({self.path!r}, samples='
                f'{self.num_samples}, views={self.num_views}, classes='
                f'{self.num_classes}, dtype={self.dtype.name})')
