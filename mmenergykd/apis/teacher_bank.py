# Copyright (c) mmenergykd contributors. All rights reserved.
"""Build and verify teacher banks (``tools/build_teacher_bank.py`` is the
command line of these functions).

Each sample of the config's training set is put through the training
pipeline once per view id, in replay mode (``RandomCrop`` / ``RandomFlip``
take the view's offset and flip instead of drawing them), then through the
distiller's data preprocessor and the frozen teacher (``model.teacher`` with
``model.teacher_ckpt``). The logits go to ``BANK/logits.bin`` (memory
mapped) with ``BANK/header.json``; see ``mmenergykd.models.teacher_bank``.
The bank is built in ``BANK.partial/`` chunk by chunk; after a kill, the
same build with ``resume=True`` finishes it, and on a finished bank it
rebuilds only the chunks that fail their checksums.

A sampled bank (a pipeline with ``RandomResizedCrop``): ``sampled_crops=K``
fixes K crops per image; each view stores the top ``topk`` logits and
``logsumexp(logits / energy_temperature)``.
"""
import multiprocessing
import os
import time
from typing import Dict, Optional

import torch

from mmenergykd.models.teacher_bank import (BankWriter, TeacherBank,
                                            partial_path, read_header)
from .bank_build import (BankBuildSettings, build_dataset, build_teacher,
                         load_config, make_header, num_views_of, probe,
                         run_chunk)

__all__ = [
    'BankBuildSettings', 'build_teacher_bank', 'verify_teacher_bank',
    'build_bank_shard'
]


def _device(settings: BankBuildSettings, rank: int) -> str:
    if settings.device:
        return settings.device
    if torch.cuda.is_available():
        return f'cuda:{rank % torch.cuda.device_count()}'
    return 'cpu'


def _setup(settings: BankBuildSettings, device: str, world: int):
    """Config, dataset and teacher forward of one of ``world`` processes."""
    if device == 'cpu' and world > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    cfg = load_config(settings)
    return cfg, build_dataset(cfg, settings), build_teacher(cfg, device)


def _start(settings: BankBuildSettings, device: str, world: int) -> BankWriter:
    """Create (or resume / repair) the bank; print its size and estimated
    time."""
    cfg, dataset, forward = _setup(settings, device, world)
    num_views = num_views_of(dataset)
    num_classes, per_view, batch = probe(dataset, forward, num_views,
                                         settings.batch_size)
    writer = BankWriter(
        settings.out,
        make_header(cfg, dataset, num_views, num_classes, settings))
    writer.create(resume=settings.resume)
    todo = writer.num_chunks - len(writer.done_chunks())
    total = len(dataset) * num_views
    left = total * todo / writer.num_chunks
    print(
        f'Teacher bank {settings.out}: {len(dataset)} samples x '
        f'{num_views} views x {num_classes} classes, {writer.dtype.name}, '
        f'{writer.header["nbytes"] / 2**20:.1f} MiB; {total} teacher '
        f'forwards, {left:.0f} to do ({todo}/{writer.num_chunks} chunks) '
        f'on {world} process(es): about {left * per_view / world:.0f} s '
        f'(measured {per_view * 1e3:.3f} ms per view, pipeline and '
        f'teacher, at batch {batch}).',
        flush=True)
    return writer


def build_bank_shard(settings: BankBuildSettings,
                     rank: int = 0,
                     world: int = 1,
                     device: Optional[str] = None) -> None:
    """Write the unfinished chunks ``c`` with ``c % world == rank`` of the
    bank being built in ``settings.out + '.partial'``."""
    device = device or _device(settings, rank)
    _, dataset, forward = _setup(settings, device, world)
    writer = BankWriter(settings.out, read_header(partial_path(settings.out)))
    done = set(writer.done_chunks())
    todo = [
        c for c in range(writer.num_chunks)
        if c % world == rank and c not in done
    ]
    tic = time.perf_counter()
    for i, chunk in enumerate(todo, 1):
        run_chunk(dataset, forward, writer, chunk, settings.batch_size)
        elapsed = time.perf_counter() - tic
        print(
            f'[process {rank}/{world}] chunk {chunk}: {i}/{len(todo)} '
            f'done, {elapsed:.0f} s, about '
            f'{elapsed / i * (len(todo) - i):.0f} s left',
            flush=True)


def _finish(writer: BankWriter, settings: BankBuildSettings) -> None:
    """Finalize the bank; print what the top-k reconstruction loses."""
    writer.finalize()
    print(f'Teacher bank complete: {settings.out}', flush=True)
    header = read_header(settings.out)
    stats = header.get('stats', {})
    if stats.get('views'):
        kl = ', '.join(f'T={t}: {v / stats["views"]:.3g}'
                       for t, v in sorted(stats['kl_sum'].items()))
        print(
            f'Top-{header["topk"]} reconstruction, mean KL(full || '
            f'reconstructed) over all {stats["views"]} views: {kl} nats',
            flush=True)


def _run_local(settings: BankBuildSettings) -> None:
    device = _device(settings, 0)
    writer = _start(settings, device, settings.workers)
    if settings.workers == 1:
        build_bank_shard(settings, 0, 1, device)
    else:
        # CPU: fork (the workers inherit the imports); CUDA cannot be
        # forked once the probe has used it: spawn.
        ctx = multiprocessing.get_context('fork' if device ==
                                          'cpu' else 'spawn')
        procs = [
            ctx.Process(
                target=build_bank_shard,
                args=(settings, rank, settings.workers))
            for rank in range(settings.workers)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        failed = [p.exitcode for p in procs if p.exitcode != 0]
        if failed:
            raise RuntimeError(
                f'{len(failed)} worker(s) failed (exit codes {failed}); fix '
                f'the error and finish the build: '
                f'{writer.command(resume=True)}')
    _finish(writer, settings)


def _run_distributed(settings: BankBuildSettings) -> None:
    import torch.distributed as dist
    device = _device(settings, int(os.environ.get('LOCAL_RANK', 0)))
    if device.startswith('cuda'):
        torch.cuda.set_device(device)
    dist.init_process_group('nccl' if device.startswith('cuda') else 'gloo')
    rank, world = dist.get_rank(), dist.get_world_size()
    writer = _start(settings, device, world) if rank == 0 else None
    dist.barrier()
    build_bank_shard(settings, rank, world, device)
    dist.barrier()
    if rank == 0:
        _finish(writer, settings)
    dist.destroy_process_group()


def build_teacher_bank(config: str,
                       out: str,
                       launcher: str = 'none',
                       **kwargs) -> str:
    """Build the teacher bank of ``config`` at ``out``.

    Args:
        config (str): The distillation config (``model.teacher``,
            ``model.teacher_ckpt``, ``train_dataloader``).
        out (str): The bank directory.
        launcher (str): ``'none'`` (``workers`` local processes) or
            ``'pytorch'`` (one process per ``torchrun`` rank).
        **kwargs: The other fields of :class:`BankBuildSettings`
            (``dtype``, ``batch_size``, ``chunk_size``, ``workers``,
            ``resume``, ``device``, ``sampled_crops``, ``view_seed``,
            ``topk``, ``energy_temperature``, ``kl_temperatures``,
            ``cfg_options``).

    Returns:
        str: ``out``, a complete bank whose header holds the checksum of
        every chunk.
    """
    settings = BankBuildSettings(config=config, out=out, **kwargs)
    if launcher == 'pytorch':
        _run_distributed(settings)
    elif launcher == 'none':
        _run_local(settings)
    else:
        raise ValueError(
            f"launcher must be 'none' or 'pytorch', got {launcher!r}.")
    return out


def verify_teacher_bank(path: str,
                        config: Optional[str] = None,
                        cfg_options: Optional[Dict] = None) -> Dict:
    """Check a teacher bank on its own: its header, the size of its files
    and every chunk against its checksum (and, with ``config``, that it
    fits that config).

    Args:
        path (str): The bank directory.
        config (str, optional): A training config the bank must fit.
        cfg_options (dict, optional): Overrides of ``config``.

    Returns:
        dict: ``chunks``, ``bytes`` and ``seconds`` of the check.

    Raises:
        FileNotFoundError | ValueError: The bank is missing, damaged
            (:class:`~mmenergykd.models.teacher_bank.BankDamagedError`),
            incomplete or does not fit ``config``; the message names the
            command that repairs or rebuilds it.
    """
    expect: Dict = {}
    if config is not None:
        cfg = load_config(
            BankBuildSettings(
                config=config, out=path, cfg_options=cfg_options))
        expect = TeacherBank.expect_from_config(cfg)
    bank = TeacherBank.open(path, expect=expect, verify=False)
    return bank.verify(expect=expect)
