# Copyright (c) mmenergykd contributors. All rights reserved.
"""Read a finished teacher bank: checks on open, logits by (sample, view)."""
import glob
import os.path as osp
import time
from typing import Dict, Iterable, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from .bank_format import (DTYPES, FORMAT, HEADER, VERSION, arrays_entry,
                          build_command, describe_differences, layout,
                          partial_path, read_header)
from .expect import expect_from_config
from .integrity import BankDamagedError, chunk_bounds, damaged_chunks
from .topk import reconstruct_logits

__all__ = ['TeacherBank']


def _meta(sample: object, key: str) -> Optional[object]:
    metainfo = getattr(sample, 'metainfo', sample)
    return metainfo.get(key) if isinstance(metainfo, dict) else None


def _config_of(expect: Dict) -> Optional[str]:
    config = expect.get('_config')
    return config if config and config != 'CONFIG' else None


def _read_or_none(folder: str) -> Optional[Dict]:
    try:
        return read_header(folder)
    except (OSError, ValueError):
        return None


class TeacherBank:
    """The teacher's logits for every (sample, view) of a training set.

    Open with :meth:`open`, which refuses a bank that does not fit the
    config, is not complete, or whose bytes do not match the checksums of
    its header. The array is memory-mapped read-only and re-opened after
    pickling or copying (no copy of the data is made).

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
        self.chunk_size = int(header['chunk_size'])
        self._arrays: Optional[Dict[str, np.ndarray]] = None

    @classmethod
    def open(cls,
             path: str,
             *,
             expect: Dict,
             verify: bool = True) -> 'TeacherBank':
        """Open the bank at ``path`` after checking it fits ``expect`` and
        (``verify``) that every chunk matches its checksum.

        Args:
            path (str): The bank directory (``--out`` of
                ``tools/build_teacher_bank.py``).
            expect (dict): What the bank must hold, from
                :func:`expect_from_config` (``{}``: only the bank's own
                checks).
            verify (bool): Check every chunk's CRC-32 (see
                :meth:`damaged_chunks` to check a share of them).

        Returns:
            TeacherBank: The opened bank.

        Raises:
            FileNotFoundError: No bank at ``path`` (or only an interrupted
                build of it).
            BankDamagedError: Truncated, or chunks that fail their
                checksums, or a bank without checksums (built before they
                were kept); the message names the command that repairs it.
            ValueError: No or an unreadable header, an incomplete bank, or
                one built with another teacher checkpoint, dataset, split,
                pipeline or preprocessing; the message names each
                difference and the command that rebuilds the bank.
        """
        header = cls._checked_header(path, expect)
        differences = describe_differences(header, expect)
        if differences:
            raise ValueError(
                f'The teacher bank {path!r} does not fit this config:\n  ' +
                '\n  '.join(differences) + '\nRebuild it for this config: ' +
                build_command(path, header, _config_of(expect), remove=path) +
                '\n(or build one at another --out and set '
                '`model.teacher_bank` to it).')
        bank = cls(path, header)
        bank.check_sizes(expect)
        if verify:
            bank.verify(expect=expect)
        return bank

    @staticmethod
    def _checked_header(path: str, expect: Dict) -> Dict:
        config = _config_of(expect)
        fresh = build_command(path, config=config, remove=path)
        if not osp.isfile(osp.join(path, HEADER)):
            partial = partial_path(path)
            if osp.isdir(path) and glob.glob(osp.join(path, '*.bin')):
                raise ValueError(
                    f'The teacher bank {path!r} has no {HEADER} (its '
                    f'array files are there): without its header it cannot '
                    f'be checked or used. Build it again: {fresh}')
            if osp.isdir(partial):
                resume = build_command(
                    path, _read_or_none(partial), config, resume=True)
                raise FileNotFoundError(
                    f'No teacher bank at {path!r}: its build at {partial!r} '
                    f'did not finish. Finish it: {resume}')
            raise FileNotFoundError(
                f'No teacher bank at {path!r} (no {HEADER}). Build it: '
                f'{build_command(path, config=config)}')
        try:
            header = read_header(path)
        except ValueError as err:
            raise ValueError(f'The teacher bank header {path}/{HEADER} is '
                             f'not valid JSON ({err}). Build the bank again: '
                             f'{fresh}') from err
        fresh = build_command(path, header, config, remove=path)
        if header.get('format') != FORMAT or header.get('version') != VERSION:
            raise ValueError(
                f'{path!r} is not a version-{VERSION} teacher bank (format '
                f"{header.get('format')!r}, version "
                f"{header.get('version')!r}; version {VERSION} keeps the "
                'checksums that prove its contents). Build it again: '
                f'{fresh}')
        if header.get('complete') is not True or 'checksums' not in header:
            raise ValueError(
                f'The teacher bank {path!r} is not complete (its build did '
                f'not finish); it is never used. Build it again: {fresh}')
        if header.get('dtype') not in DTYPES.values():
            raise ValueError(f"The teacher bank {path!r} has dtype "
                             f"{header.get('dtype')!r}. Build it again: "
                             f'{fresh}')
        if any(
                header.get('arrays', {}).get(name) != entry
                for name, entry in arrays_entry(header).items()):
            raise ValueError(
                f'The teacher bank {path!r} has a header whose `arrays` do '
                f'not match its shape and dtype. Build it again: {fresh}')
        return header

    def repair_command(self, expect: Optional[Dict] = None) -> str:
        """The command that rebuilds only the damaged chunks (``--resume``
        on the finished bank), with the config that built it (if it is
        still there) and its settings."""
        config = self.header.get('config')
        if not (config and osp.isfile(config)):
            config = _config_of(expect or {})
        return build_command(self.path, self.header, config, resume=True)

    def check_sizes(self, expect: Optional[Dict] = None) -> None:
        """Refuse array files whose size is not the header's."""
        for entry in self.header['arrays'].values():
            file = osp.join(self.path, entry['file'])
            size = osp.getsize(file) if osp.isfile(file) else None
            if size != entry['nbytes']:
                raise BankDamagedError(
                    f'The teacher bank {self.path!r} is truncated or '
                    f"damaged: {entry['file']} has {size} bytes, the header "
                    f"says {entry['nbytes']} (shape {entry['shape']}, "
                    f"{entry['dtype']}). It is never used. Rebuild the "
                    'chunks that fail their checksums: '
                    f'{self.repair_command(expect)}')

    @property
    def num_chunks(self) -> int:
        """How many chunks (of ``chunk_size`` samples) have a checksum."""
        return -(-self.num_samples // self.chunk_size)

    def damaged_chunks(self,
                       chunks: Optional[Iterable[int]] = None
                       ) -> Dict[int, list]:
        """The chunks of ``chunks`` (default: all) whose bytes fail their
        CRC-32, each with the files that fail."""
        return damaged_chunks(self.path, self.header, chunks)

    def damage_error(self,
                     damaged: Dict[int, list],
                     expect: Optional[Dict] = None) -> BankDamagedError:
        """The error naming ``damaged`` chunks, their samples and the
        command that rebuilds just them."""
        lines = []
        for chunk in sorted(damaged)[:10]:
            start, stop = chunk_bounds(self.num_samples, self.chunk_size,
                                       chunk)
            lines.append(f'chunk {chunk}: samples {start}..{stop - 1} '
                         f"({', '.join(damaged[chunk])})")
        if len(damaged) > 10:
            lines.append(f'... {len(damaged) - 10} more')
        return BankDamagedError(
            f'The teacher bank {self.path!r} is damaged: {len(damaged)} of '
            f'{self.num_chunks} chunks do not match the checksums of its '
            'header:\n  ' + '\n  '.join(lines) +
            '\nIt is never used damaged. Rebuild just these chunks: '
            f'{self.repair_command(expect)}')

    def verify(self,
               chunks: Optional[Iterable[int]] = None,
               expect: Optional[Dict] = None) -> Dict[str, float]:
        """Check ``chunks`` (default: all) against their checksums.

        Args:
            chunks (Iterable[int], optional): The chunks to check.
            expect (dict, optional): For the repair command's config.

        Returns:
            dict: ``chunks`` checked, ``bytes`` read, ``seconds`` taken.

        Raises:
            BankDamagedError: A chunk fails its checksum.
        """
        chunks = range(self.num_chunks) if chunks is None else list(chunks)
        tic = time.perf_counter()
        damaged = self.damaged_chunks(chunks)
        if damaged:
            raise self.damage_error(damaged, expect)
        share = len(chunks) / max(self.num_chunks, 1)
        return dict(
            chunks=len(chunks),
            bytes=self.header['nbytes'] * share,
            seconds=time.perf_counter() - tic)

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
