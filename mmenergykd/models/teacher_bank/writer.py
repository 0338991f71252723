# Copyright (c) mmenergykd contributors. All rights reserved.
"""Write a teacher bank crash-safely, in chunks, from several processes."""
import glob
import json
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Union

import numpy as np
from torch import Tensor

from mmenergykd.utils.atomic_files import fsync_path
from .bank_format import (FORMAT, HEADER, IDENTITY_KEYS, PROGRESS, VERSION,
                          arrays_entry, build_command, describe_differences,
                          layout, partial_path, read_header, write_json_atomic)
from .integrity import (ALGORITHM, array_chunk_crcs, chunk_bounds,
                        file_chunk_crcs)
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
    each with ``progress/chunk_XXXXXX.json`` (the CRC-32 of each array's
    rows and optional statistics, summed into the header's ``stats``) once
    the data is flushed. :meth:`finalize` checks every chunk against its
    CRC, keeps the CRCs in the header (``checksums``: the bank proves its
    contents whenever it is opened), marks the header complete and renames
    the directory. A resumed build skips the marked chunks; resuming a
    finished bank checks it and rebuilds only the chunks that do not match
    their checksums (a damaged or truncated bank is repaired in place).

    Args:
        path (str): The bank directory to make.
        header (dict): The bank's header (``teacher``, ``dataset``,
            ``pipeline``, ``data_preprocessor``, ``dataset_len``,
            ``num_views``, ``num_classes``, ``dtype``, ``chunk_size``,
            ``kind``; a sampled bank also ``topk``, ``energy_temperature``,
            ``num_crops``, ``view_seed``; optionally ``config`` and
            ``cfg_options``, which the messages' commands repeat).
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
        return range(*chunk_bounds(self.shape[0], self.chunk_size, chunk))

    def _marker(self, chunk: int) -> str:
        return osp.join(self.tmp, PROGRESS, f'chunk_{chunk:06d}.json')

    def command(self,
                resume: bool = False,
                remove: Optional[str] = None) -> str:
        """The builder's command for this bank (see :func:`build_command`)."""
        return build_command(
            self.path, self.header, resume=resume, remove=remove)

    def create(self, resume: bool = False) -> None:
        """Start the build, or with ``resume`` continue an interrupted one
        or repair a finished one (refused when it was made for another
        header). Every refusal names the command that works."""
        if osp.exists(self.path):
            if not resume:
                self._refuse_existing()
            self._reopen_finished()
        if osp.isdir(self.tmp) and not osp.isfile(osp.join(self.tmp, HEADER)):
            self._drop_headerless_partial()
        if osp.isdir(self.tmp):
            if not resume:
                raise FileExistsError(
                    f'An interrupted build is at {self.tmp!r}. Finish it: '
                    f'{self.command(resume=True)}\nor start again: '
                    f'{self.command(remove=self.tmp)}')
            self._resume_partial()
            return
        self._create_new()

    def _full_header(self) -> Dict:
        arrays = arrays_entry(self.header)
        return dict(
            self.header,
            format=FORMAT,
            version=VERSION,
            arrays=arrays,
            nbytes=sum(a['nbytes'] for a in arrays.values()),
            index='dense: row sample_idx * num_views + view',
            complete=False)

    def _create_new(self) -> None:
        header = self._full_header()
        os.makedirs(osp.join(self.tmp, PROGRESS))
        for entry in header['arrays'].values():
            with open(osp.join(self.tmp, entry['file']), 'wb') as f:
                f.truncate(entry['nbytes'])
        write_json_atomic(osp.join(self.tmp, HEADER), header)
        self.header = header

    def _read_old_header(self, folder: str) -> Dict:
        """The header of ``folder`` (an earlier build of this bank),
        refused unless it is this version and was made for this header."""
        fresh = self.command(remove=folder)
        try:
            old = read_header(folder)
        except (OSError, ValueError) as err:
            raise ValueError(
                f'{folder}/{HEADER} cannot be read ({err}); the build in '
                f'{folder!r} cannot be checked. Start again: {fresh}') from err
        if old.get('format') != FORMAT or old.get('version') != VERSION:
            raise ValueError(
                f'{folder!r} was made by another version of the builder '
                f"(format {old.get('format')!r}, version "
                f"{old.get('version')!r}, this one writes {VERSION}). "
                f'Start again: {fresh}')
        diff = describe_differences(
            old,
            {k: self._full_header().get(k, '<unset>')
             for k in _RESUME_KEYS})
        if diff:
            raise ValueError(
                f'Cannot resume {folder!r}: it was made for another teacher '
                '/ data / setting:\n  ' + '\n  '.join(diff) +
                f'\nBuild this config\'s bank from scratch: {fresh}\n(or '
                'choose another --out, or resume with the settings above).')
        return old

    def _refuse_existing(self) -> None:
        """Refuse to overwrite ``path``, naming the commands that work for
        it: ``--resume`` only for a bank of this version and setting."""
        fresh = self.command(remove=self.path)
        try:
            old = read_header(self.path)
        except (OSError, ValueError):
            old = {}
        same = old.get('version') == VERSION and 'checksums' in old and \
            not describe_differences(old, {
                k: self._full_header().get(k, '<unset>')
                for k in _RESUME_KEYS
            })
        if not same:
            raise FileExistsError(
                f'{self.path!r} exists and is not a finished bank of this '
                f'config and settings. Build it again: {fresh}\n(or choose '
                'another --out).')
        raise FileExistsError(
            f'{self.path!r} exists. To check it and rebuild only the chunks '
            f'that fail their checksums: {self.command(resume=True)}\nTo '
            f'build it again from scratch: {fresh}\n(or choose another '
            '--out).')

    def _reopen_finished(self) -> None:
        """Turn the finished bank back into a build (``.partial``) whose
        chunks are then checked against the header's checksums."""
        if osp.isdir(self.tmp):
            raise FileExistsError(
                f'Both {self.path!r} and an interrupted build '
                f'{self.tmp!r} exist. Remove the build and check the bank: '
                f'rm -r {self.tmp} && {self.command(resume=True)}')
        old = self._read_old_header(self.path)
        if 'checksums' not in old:
            raise ValueError(
                f'{self.path!r} has no checksums in its header; it cannot '
                'be checked chunk by chunk. Build it again: '
                f'{self.command(remove=self.path)}')
        os.replace(self.path, self.tmp)
        fsync_path(osp.dirname(osp.abspath(self.path)))
        write_json_atomic(
            osp.join(self.tmp, HEADER), dict(old, complete=False))

    def _drop_headerless_partial(self) -> None:
        """A build stopped between creating its folder and writing its
        header holds nothing computed: remove it and start again."""
        marked = glob.glob(osp.join(self.tmp, PROGRESS, 'chunk_*.json'))
        if marked:
            raise ValueError(
                f'{self.tmp!r} has {len(marked)} finished chunk(s) but no '
                f'{HEADER}, so they cannot be checked. Start again: '
                f'{self.command(remove=self.tmp)}')
        print(
            f'{self.tmp!r} has no {HEADER} (its build stopped before '
            'writing one; nothing was computed): removed, starting again.',
            flush=True)
        shutil.rmtree(self.tmp)

    def _resume_partial(self) -> None:
        """Continue the build in ``.partial``: keep its header, give each
        array file its size, and mark the unmarked chunks that match the
        header's checksums (a finished bank being repaired)."""
        self.header = self._read_old_header(self.tmp)
        os.makedirs(osp.join(self.tmp, PROGRESS), exist_ok=True)
        for entry in self.header['arrays'].values():
            file = osp.join(self.tmp, entry['file'])
            if not osp.isfile(file) or \
                    osp.getsize(file) != entry['nbytes']:
                with open(file, 'ab') as f:
                    f.truncate(entry['nbytes'])
        stored = self.header.get('checksums', {}).get('chunks')
        if not stored:
            return
        todo = sorted(set(range(self.num_chunks)) - set(self.done_chunks()))
        read = file_chunk_crcs(self.tmp, self.header, todo)
        for i, chunk in enumerate(todo):
            crcs = {name: read[name][i] for name in stored}
            if all(crcs[name] == stored[name][chunk] for name in stored):
                start, stop = chunk_bounds(self.shape[0], self.chunk_size,
                                           chunk)
                # stats None: the chunk holds what the header's stats
                # already count.
                write_json_atomic(
                    self._marker(chunk),
                    dict(start=start, stop=stop, crc32=crcs, stats=None))

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
                crc32=array_chunk_crcs(self.arrays, rows.start, rows.stop),
                stats=stats or {}))

    def finalize(self) -> None:
        """Check every chunk against its marker's CRCs (read back from the
        files), keep the CRCs in the header, mark the bank complete and
        rename it to ``path``."""
        missing = sorted(set(range(self.num_chunks)) - set(self.done_chunks()))
        if missing:
            raise RuntimeError(
                f'{len(missing)} of {self.num_chunks} chunks are not written '
                f'yet (first: {missing[:5]}); finish the build: '
                f'{self.command(resume=True)}')
        self._arrays = None  # flushed by write_chunk; read from the files
        read = file_chunk_crcs(self.tmp, self.header, range(self.num_chunks))
        stats: Optional[Dict] = {}
        crcs: Dict[str, List[int]] = {name: [] for name in read}
        for chunk in range(self.num_chunks):
            with open(self._marker(chunk), encoding='utf-8') as f:
                marker = json.load(f)
            if marker.get('stats') is None:  # kept from a repaired bank
                stats = None
            elif stats is not None:
                _add_into(stats, marker['stats'])
            for name in read:
                if read[name][chunk] != marker['crc32'][name]:
                    os.remove(self._marker(chunk))
                    raise RuntimeError(
                        f'Chunk {chunk} of {self.tmp!r} does not match its '
                        'checksum (a write was lost); it is unmarked: '
                        f'{self.command(resume=True)}')
                crcs[name].append(read[name][chunk])
        shutil.rmtree(osp.join(self.tmp, PROGRESS))
        write_json_atomic(
            osp.join(self.tmp, HEADER),
            dict(
                self.header,
                stats=self.header.get('stats', {}) if stats is None else stats,
                checksums=dict(algorithm=ALGORITHM, chunks=crcs),
                complete=True))
        os.replace(self.tmp, self.path)
        fsync_path(osp.dirname(osp.abspath(self.path)))


def _add_into(total: Dict, part: Dict) -> None:
    """Sum the numbers of the nested dict ``part`` into ``total``."""
    for key, value in part.items():
        if isinstance(value, dict):
            _add_into(total.setdefault(key, {}), value)
        else:
            total[key] = total.get(key, 0) + value
