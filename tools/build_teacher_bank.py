# Copyright (c) mmenergykd contributors. All rights reserved.
"""Run a config's teacher once over every view of its training set.

Usage:
    python tools/build_teacher_bank.py CONFIG --out BANK [--dtype fp16|fp32]
        [--batch-size 256] [--workers N] [--resume]
    torchrun --nproc-per-node 2 tools/build_teacher_bank.py CONFIG \
        --out BANK --launcher pytorch

Each sample is put through the config's training pipeline once per view id,
in replay mode (``RandomCrop`` / ``RandomFlip`` take the view's offset and
flip instead of drawing them), then through the distiller's data
preprocessor and the frozen teacher (``model.teacher`` with
``model.teacher_ckpt``). The logits go to ``BANK/logits.bin`` (memory
mapped) with ``BANK/header.json``; see ``mmenergykd.models.teacher_bank``.
The bank is built in ``BANK.partial/`` chunk by chunk; after a kill, run the
same command with ``--resume``.

Sampled bank (a pipeline with ``RandomResizedCrop``): ``--sampled-crops K``
fixes K crops per image; each view stores the top ``--topk`` logits and
``logsumexp(logits / --energy-temperature)``.
"""
import argparse
import copy
import multiprocessing
import os
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from mmenergykd.datasets.transforms import (REPLAY_KEY, ViewRandomCrop,
                                            ViewRandomFlip,
                                            ViewRandomResizedCrop,
                                            recording_pipeline)
from mmenergykd.models.distillers.frozen_teacher import FrozenTeacher
from mmenergykd.models.teacher_bank import (DTYPES, BankWriter,
                                            data_preprocessor_of,
                                            expect_from_config, partial_path,
                                            teacher_checkpoint_of)
from mmenergykd.models.teacher_bank.bank_format import read_header
from mmenergykd.registry import DATASETS, MODELS

VIEW_CLASSES = (ViewRandomCrop, ViewRandomFlip, ViewRandomResizedCrop)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Build an exact teacher bank (teacher logits per '
        'training sample and view).')
    parser.add_argument('config', help='the distillation config')
    parser.add_argument('--out', required=True, help='the bank directory')
    parser.add_argument('--dtype', choices=sorted(DTYPES), default='fp16')
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument(
        '--chunk-size',
        type=int,
        default=64,
        help='samples per chunk (the unit of progress and resume)')
    parser.add_argument(
        '--workers',
        type=int,
        default=1,
        help='local worker processes, each writing its own chunks')
    parser.add_argument('--resume', action='store_true')
    parser.add_argument(
        '--device',
        default=None,
        help='default: cuda if '
        'available, else cpu')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch'], default='none')
    parser.add_argument(
        '--sampled-crops',
        type=int,
        default=None,
        metavar='K',
        help='a sampled bank: K fixed RandomResizedCrop crops per image '
        '(x the flips), top-k logits + exact log-sum-exp')
    parser.add_argument('--view-seed', type=int, default=0)
    parser.add_argument('--topk', type=int, default=10)
    parser.add_argument(
        '--energy-temperature',
        type=float,
        default=4.0,
        help='T_E of the stored log-sum-exp (energy -T_E * lse)')
    parser.add_argument(
        '--kl-temperatures',
        type=float,
        nargs='+',
        default=[1.0, 4.0],
        help='where the top-k reconstruction error (KL) is measured')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    for name in ('batch_size', 'chunk_size', 'workers', 'sampled_crops'):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def load_config(args: argparse.Namespace) -> Config:
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def build_dataset(cfg: Config, args: argparse.Namespace):
    """The training dataset with the view-recording pipeline."""
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.pipeline = recording_pipeline(
        dataset_cfg.get('pipeline', []), args.sampled_crops, args.view_seed)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(dataset_cfg)
    if not hasattr(dataset, 'get_data_info') or not hasattr(
            dataset, 'pipeline'):
        raise TypeError(
            f'train_dataloader.dataset is a {type(dataset).__name__}; a '
            'teacher bank needs a plain dataset (not a wrapper) whose '
            'sample_idx is its index.')
    dataset.full_init()
    return dataset


def num_views_of(dataset) -> int:
    """The number of views of sample 0 (every sample is checked later)."""
    packed = dataset.pipeline(dataset.get_data_info(0))
    return int(packed['data_samples'].metainfo.get('teacher_num_views', 1))


def build_teacher(cfg: Config, device: str) -> Callable:
    """``fn(list of packed samples) -> (B, C) logits``: the distiller's
    preprocessing and the frozen teacher."""
    teacher = FrozenTeacher.build(
        cfg.model.teacher,
        teacher_checkpoint_of(cfg.model),
        channels_last=cfg.model.get('channels_last', False),
        inference_mode=True).to(device)
    preprocessor_cfg = data_preprocessor_of(cfg)
    if preprocessor_cfg.get('batch_augments'):
        raise ValueError(
            'The data preprocessor has batch_augments (Mixup / CutMix): '
            'their mixed images are new images, which a teacher bank cannot '
            'hold. Remove them or train with the live teacher.')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        preprocessor = MODELS.build(preprocessor_cfg).to(device)

    def forward(packed: List[dict]) -> torch.Tensor:
        data = preprocessor(pseudo_collate(packed), False)
        return teacher.logits(data['inputs'])

    return forward


def _apply(transforms: Sequence[Callable], results: dict) -> dict:
    for transform in transforms:
        results = transform(results)
        if results is None:
            raise ValueError(f'{transform!r} dropped a training sample; a '
                             'teacher bank needs every sample.')
    return results


def view_batches(dataset, samples: range, num_views: int, batch_size: int):
    """Packed samples for every (sample, view), ``batch_size`` at a time.

    The deterministic transforms before the first view transform (loading,
    decoding) run once per sample, the rest once per view.
    """
    transforms = list(dataset.pipeline.transforms)
    first = next(
        (i for i, t in enumerate(transforms) if isinstance(t, VIEW_CLASSES)),
        len(transforms))
    batch = []
    for idx in samples:
        base = _apply(transforms[:first], dataset.get_data_info(idx))
        for view in range(num_views):
            results = copy.copy(base)
            results[REPLAY_KEY] = view
            packed = _apply(transforms[first:], results)
            meta = packed['data_samples'].metainfo
            if meta.get('teacher_view') != view or meta.get(
                    'teacher_num_views', 1) != num_views:
                raise ValueError(
                    f'Sample {idx} has {meta.get("teacher_num_views", 1)} '
                    f'views, sample 0 has {num_views}: an exact bank needs '
                    'every image at one size before the random crop.')
            batch.append(packed)
            if len(batch) == batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def run_chunk(dataset, forward: Callable, writer: BankWriter, chunk: int,
              batch_size: int) -> None:
    rows = writer.chunk_range(chunk)
    num_views = writer.shape[1]
    parts: Dict[str, List[np.ndarray]] = {}
    stats: dict = {}
    for batch in view_batches(dataset, rows, num_views, batch_size):
        logits = forward(batch).float().cpu()
        for name, value in writer.encode(logits, stats).items():
            stored = value.astype(writer.layout[name][1])
            if stored.dtype.kind == 'f' and not np.isfinite(stored).all():
                raise ValueError(
                    f'Chunk {chunk}: teacher {name} overflow '
                    f'{stored.dtype.name} (or are NaN); build with --dtype '
                    'fp32.')
            parts.setdefault(name, []).append(stored)
    data = {
        name:
        np.concatenate(value).reshape((len(rows), num_views) +
                                      value[0].shape[1:])
        for name, value in parts.items()
    }
    writer.write_chunk(chunk, data, stats)


def make_header(cfg: Config, dataset, num_views: int, num_classes: int,
                args: argparse.Namespace) -> dict:
    expect = expect_from_config(cfg, dataset_len=len(dataset))
    header = {k: v for k, v in expect.items() if not k.startswith('_')}
    header.update(
        num_views=num_views,
        num_classes=num_classes,
        dtype=DTYPES[args.dtype],
        chunk_size=args.chunk_size,
        kind='exact' if args.sampled_crops is None else 'sampled',
        config=args.config,
        teacher_checkpoint=teacher_checkpoint_of(cfg.model))
    if args.sampled_crops is not None:
        if not 1 <= args.topk < num_classes:
            raise ValueError(f'--topk must be in [1, {num_classes}), got '
                             f'{args.topk}.')
        header.update(
            num_crops=args.sampled_crops,
            view_seed=args.view_seed,
            topk=args.topk,
            energy_temperature=args.energy_temperature,
            kl_temperatures=args.kl_temperatures)
    return header


def default_device(args: argparse.Namespace, rank: int) -> str:
    if args.device:
        return args.device
    if torch.cuda.is_available():
        return f'cuda:{rank % torch.cuda.device_count()}'
    return 'cpu'


def setup_worker(args: argparse.Namespace, device: str, world: int):
    """Config, dataset and teacher forward of one of ``world`` processes."""
    if device == 'cpu' and world > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    cfg = load_config(args)
    return cfg, build_dataset(cfg, args), build_teacher(cfg, device)


def start(args: argparse.Namespace, device: str, world: int) -> BankWriter:
    """Create (or resume) the bank; print its size and estimated time."""
    cfg, dataset, forward = setup_worker(args, device, world)
    num_views = num_views_of(dataset)
    tic = time.perf_counter()
    probe = next(
        view_batches(dataset, range(len(dataset)), num_views, args.batch_size))
    pipeline_time = time.perf_counter() - tic
    num_classes = forward(probe).shape[1]  # warm-up
    times = []
    for _ in range(2):
        tic = time.perf_counter()
        forward(probe)
        times.append(time.perf_counter() - tic)
    per_view = (pipeline_time + min(times)) / len(probe)
    writer = BankWriter(
        args.out, make_header(cfg, dataset, num_views, num_classes, args))
    writer.create(resume=args.resume)
    todo = writer.num_chunks - len(writer.done_chunks())
    total = len(dataset) * num_views
    left = total * todo / writer.num_chunks
    print(
        f'Teacher bank {args.out}: {len(dataset)} samples x {num_views} '
        f'views x {num_classes} classes, {writer.dtype.name}, '
        f'{writer.header["nbytes"] / 2**20:.1f} MiB; {total} teacher '
        f'forwards, {left:.0f} to do ({todo}/{writer.num_chunks} chunks) '
        f'on {world} process(es): about {left * per_view / world:.0f} s '
        f'(measured {per_view * 1e3:.3f} ms per view, pipeline and '
        f'teacher, at batch {len(probe)}).',
        flush=True)
    return writer


def run_shard(args: argparse.Namespace, rank: int, world: int,
              device: str) -> None:
    """Write the unfinished chunks ``c`` with ``c % world == rank``."""
    _, dataset, forward = setup_worker(args, device, world)
    writer = BankWriter(args.out, read_header(partial_path(args.out)))
    done = set(writer.done_chunks())
    todo = [
        c for c in range(writer.num_chunks)
        if c % world == rank and c not in done
    ]
    tic = time.perf_counter()
    for i, chunk in enumerate(todo, 1):
        run_chunk(dataset, forward, writer, chunk, args.batch_size)
        elapsed = time.perf_counter() - tic
        print(
            f'[process {rank}/{world}] chunk {chunk}: {i}/{len(todo)} '
            f'done, {elapsed:.0f} s, about '
            f'{elapsed / i * (len(todo) - i):.0f} s left',
            flush=True)


def finish(writer: BankWriter, args: argparse.Namespace) -> None:
    """Finalize the bank; print what the top-k reconstruction loses."""
    writer.finalize()
    print(f'Teacher bank complete: {args.out}', flush=True)
    stats = read_header(args.out).get('stats', {})
    if stats.get('views'):
        kl = ', '.join(f'T={t}: {v / stats["views"]:.3g}'
                       for t, v in sorted(stats['kl_sum'].items()))
        print(
            f'Top-{args.topk} reconstruction, mean KL(full || '
            f'reconstructed) over all {stats["views"]} views: {kl} nats',
            flush=True)


def _worker(argv: List[str], rank: int, world: int) -> None:
    args = parse_args(argv)
    run_shard(args, rank, world, default_device(args, rank))


def run_local(args: argparse.Namespace, argv: List[str]) -> None:
    device = default_device(args, 0)
    writer = start(args, device, args.workers)
    if args.workers == 1:
        run_shard(args, 0, 1, device)
    else:
        # CPU: fork (the workers inherit the imports); CUDA cannot be
        # forked once the probe has used it: spawn.
        ctx = multiprocessing.get_context('fork' if device ==
                                          'cpu' else 'spawn')
        procs = [
            ctx.Process(target=_worker, args=(argv, rank, args.workers))
            for rank in range(args.workers)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        failed = [p.exitcode for p in procs if p.exitcode != 0]
        if failed:
            raise SystemExit(f'{len(failed)} worker(s) failed (exit codes '
                             f'{failed}); fix the error and run again with '
                             '--resume.')
    finish(writer, args)


def run_distributed(args: argparse.Namespace) -> None:
    import torch.distributed as dist
    device = default_device(args, int(os.environ.get('LOCAL_RANK', 0)))
    if device.startswith('cuda'):
        torch.cuda.set_device(device)
    dist.init_process_group('nccl' if device.startswith('cuda') else 'gloo')
    rank, world = dist.get_rank(), dist.get_world_size()
    writer = start(args, device, world) if rank == 0 else None
    dist.barrier()
    run_shard(args, rank, world, device)
    dist.barrier()
    if rank == 0:
        finish(writer, args)
    dist.destroy_process_group()


def main(argv: Optional[Sequence[str]] = None) -> None:
    import sys
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.launcher == 'pytorch':
        run_distributed(args)
    else:
        run_local(args, argv)


if __name__ == '__main__':
    main()
