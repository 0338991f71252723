# Copyright (c) mmenergykd contributors. All rights reserved.
"""The teacher-bank variant of the speed benchmark (issue 14).

A bank of the config's kind (exact for ``RandomCrop`` / ``RandomFlip``,
sampled for ``RandomResizedCrop``) is written with the real
:class:`~mmenergykd.models.teacher_bank.BankWriter` for the benchmark's
batch: every view of each of its samples holds the live teacher's logits
of that sample, so the step with the bank computes what the live step
computes (up to the bank's storage). The step then runs the distiller's
own path: ``model.attach_teacher_bank(bank)`` and data samples carrying
``sample_idx`` / ``teacher_view``. The build is timed per chunk of a
bank being written: ``build_views`` teacher forwards of the batch (one
chunk of ``batch x build_views`` (sample, view) pairs), encoding, the
chunk's write, flush, checksum and progress marker. Creating and
finalising a bank happen once per bank and are not timed.
"""
import copy
import os.path as osp
import shutil
import tempfile
from collections import OrderedDict
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from torch import Tensor

from .settings import BenchSettings

#: Identity fields of the benchmark's banks (never checked against a
#: config: the bank is opened with an empty ``expect``).
_IDENTITY = dict(
    teacher=dict(model='the benchmark distiller\'s teacher'),
    dataset=dict(type='synthetic'),
    pipeline=[],
    data_preprocessor={})


def count_views(pipeline: List[dict], img_size: int, num_crops: int) -> dict:
    """The views per image of the training pipeline, from its recording
    form (the real ``View*`` transforms) run on one synthetic image.

    Args:
        pipeline (list[dict]): ``train_dataloader.dataset.pipeline``.
        img_size (int): The side of the image given to the random
            transforms (a ``RandomCrop`` config's image: its crop size).
        num_crops (int): Crops per image of a sampled bank
            (``RandomResizedCrop``).

    Returns:
        dict: ``kind`` (``'exact'`` or ``'sampled'``), ``num_views`` and
        ``num_crops`` (None for an exact bank).

    Raises:
        ValueError: The pipeline has a transform no bank can hold (the
            message of ``recording_pipeline``).
    """
    from mmengine.dataset import Compose
    from mmengine.registry import DefaultScope

    from mmenergykd.datasets.transforms import recording_pipeline
    sampled = any(
        str(t.get('type', '')).split('.')[-1] == 'RandomResizedCrop'
        for t in pipeline)
    steps = [
        t for t in recording_pipeline(pipeline, num_crops if sampled else None)
        if str(t['type']).split('.')[-1] != 'LoadImageFromFile'
    ]
    size = (img_size, img_size)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        packed = Compose(steps)(
            dict(
                img=np.zeros(size + (3, ), np.uint8),
                img_shape=size,
                ori_shape=size,
                sample_idx=0))
    views = int(packed['data_samples'].metainfo.get('teacher_num_views', 1))
    return dict(
        kind='sampled' if sampled else 'exact',
        num_views=views,
        num_crops=num_crops if sampled else None)


def bank_header(info: dict, num_samples: int, num_classes: int,
                settings: BenchSettings, energy_temperature: float) -> dict:
    """A writer header for ``num_samples`` samples of the bank ``info``."""
    header = dict(
        _IDENTITY,
        dataset_len=num_samples,
        num_views=info['num_views'],
        num_classes=num_classes,
        dtype=dict(fp16='float16', fp32='float32')[settings.bank_dtype],
        chunk_size=num_samples,
        kind=info['kind'])
    if info['kind'] == 'sampled':
        header.update(
            num_crops=info['num_crops'],
            view_seed=0,
            topk=min(int(settings.bank_topk), num_classes - 1),
            energy_temperature=float(energy_temperature),
            kl_temperatures=[1.0, 4.0])
    return header


def write_bank(path: str, header: dict, logits: Tensor) -> None:
    """Write a complete bank of ``logits`` (samples, views, classes) with
    the real writer, as ``tools/build_teacher_bank.py`` writes a chunk."""
    from mmenergykd.models.teacher_bank import BankWriter
    writer = BankWriter(path, header)
    writer.create()
    num, views = logits.shape[:2]
    stats: dict = {}
    encoded = writer.encode(logits.reshape(num * views, -1).float(), stats)
    writer.write_chunk(
        0, {
            name: value.reshape((num, views) + value.shape[1:])
            for name, value in encoded.items()
        }, stats)
    writer.finalize()


class BankBench:
    """The bank, the batch that looks it up, and the timed build.

    Args:
        info (dict): From :func:`count_views`.
        settings (BenchSettings): The benchmark's settings.
        teacher_logits (Tensor): The live teacher's logits of the batch.
        energy_temperature (float): The energy consumers' T_E (a sampled
            bank stores the exact energy at it).
    """

    def __init__(self, info: dict, settings: BenchSettings,
                 teacher_logits: Tensor, energy_temperature: float):
        from mmenergykd.models.teacher_bank import TeacherBank
        self.info = info
        self.settings = settings
        self.root = tempfile.mkdtemp(prefix='speed_bank_')
        self.path = osp.join(self.root, 'bank')
        batch, classes = teacher_logits.shape
        self.energy_temperature = energy_temperature
        self.header = bank_header(info, batch, classes, settings,
                                  energy_temperature)
        views = info['num_views']
        write_bank(
            self.path, self.header,
            teacher_logits.detach().float().cpu()[:, None].expand(
                batch, views, classes))
        self.bank = TeacherBank.open(self.path, expect={})
        gen = torch.Generator().manual_seed(settings.seed)
        self.views = torch.randint(0, views, (batch, ), generator=gen)
        self.builds = 0
        self.build_views = max(1, int(settings.bank_build_views))

    def data(self, data: dict) -> dict:
        """A copy of the batch whose data samples carry ``sample_idx``,
        ``teacher_view`` and ``teacher_num_views`` (what the recording
        pipeline writes)."""
        data = copy.deepcopy(data)
        for i, sample in enumerate(data['data_samples']):
            sample.set_metainfo(
                dict(
                    sample_idx=i,
                    teacher_view=int(self.views[i]),
                    teacher_num_views=self.info['num_views']))
        return data

    def attach(self, model) -> None:
        """Make the distiller look its teacher logits up in the bank."""
        model.teacher_bank = self.path
        model.attach_teacher_bank(self.bank)

    @staticmethod
    def detach(model) -> None:
        """Back to the live teacher."""
        model.teacher_bank = None
        model.attach_teacher_bank(None)

    def build_run(self,
                  teacher_forward: Callable[[], Tensor],
                  slots: int = 4) -> Callable:
        """One timed build step: ``build_views`` teacher forwards of the
        batch, encoded and written as the next chunk of a bank being built
        (``slots`` chunks of the batch's size, written round-robin)."""
        from mmenergykd.models.teacher_bank import BankWriter
        views, batch = self.build_views, self.header['dataset_len']
        header = dict(self.header, num_views=views, dataset_len=batch * slots)
        if header['kind'] == 'sampled':
            header['num_crops'] = views
        writer = BankWriter(osp.join(self.root, 'build'), header)
        writer.create()

        def run():
            logits = torch.stack([teacher_forward() for _ in range(views)],
                                 dim=1).float().cpu()
            stats: dict = {}
            encoded = writer.encode(logits.reshape(batch * views, -1), stats)
            writer.write_chunk(
                self.builds % slots, {
                    name: value.reshape((batch, views) + value.shape[1:])
                    for name, value in encoded.items()
                }, stats)
            self.builds += 1

        return run

    def compare_losses(self, model, data: dict,
                       amp: Callable) -> Dict[str, float]:
        """Max |bank - live| of each loss term of ``model.loss`` on the
        batch (no update; kept for the report): the bank really replaces
        the teacher."""
        out = OrderedDict()
        with torch.no_grad():
            pre = model.data_preprocessor(self.data(data), True)
            results = []
            for banked in (False, True):
                if banked:
                    self.attach(model)
                with amp():
                    results.append(
                        model.loss(pre['inputs'], pre['data_samples']))
                self.detach(model)
        for key, live in results[0].items():
            if 'loss' in key:
                out[key] = float(
                    (results[1][key].float() - live.float()).abs().max())
        self.loss_diff = out
        return out

    def describe(self, training_epochs: Optional[int] = None) -> dict:
        """The bank's kind and settings, the config's training epochs and
        the loss check, for the report."""
        return OrderedDict(
            kind=self.info['kind'],
            num_views=self.info['num_views'],
            num_crops=self.info['num_crops'],
            topk=self.header.get('topk'),
            dtype=self.header['dtype'],
            samples=self.header['dataset_len'],
            build_views=self.build_views,
            training_epochs=training_epochs,
            loss_max_abs_diff_vs_live=getattr(self, 'loss_diff', {}))

    def close(self) -> None:
        """Delete the benchmark's banks."""
        self.bank = None
        shutil.rmtree(self.root, ignore_errors=True)


def make_bank_bench(setup: dict, settings: BenchSettings,
                    teacher_logits: Tensor, energy_temperature: float,
                    log: Callable[[str], None]) -> Optional[BankBench]:
    """The bank variant, or None (``--no-bank``, or a pipeline no bank can
    hold: logged with the reason)."""
    if not settings.bank:
        return None
    try:
        info = count_views(setup['pipeline'], setup['img_size'],
                           settings.bank_crops)
    except (ValueError, TypeError, KeyError) as err:
        log(f'teacher bank variant skipped: {err}')
        return None
    log(f"teacher bank: {info['kind']}, {info['num_views']} views per "
        'image')
    return BankBench(info, settings, teacher_logits, energy_temperature)


def bank_variants(bench, variants: Dict[str, tuple]) -> OrderedDict:
    """The teacher-bank comparison of a ``SpeedBenchmark``: its student
    step, teacher forward, live KD and Energy KD steps (from ``variants``),
    the Energy KD step with the bank and the timed bank build."""
    from .builders import unchecked
    from .steps import distill_step, teacher_forward
    model, wrapper, bank = bench.model, bench.optim_wrapper, bench.bank
    teacher = unchecked(model.frozen_teacher)
    out = OrderedDict(
        (n, variants[n]) for n in ('student', 'teacher', 'kd', 'energykd'))

    def prepare():
        bench._use(bench.energy_losses)()
        bank.attach(model)

    out['energykd_bank'] = (
        prepare, lambda: distill_step(model, bench.bank_data, wrapper),
        bench.batch_size)
    out['bank_build'] = (bench._nothing,
                         bank.build_run(lambda: teacher_forward(
                             teacher, bench.inputs, bench.amp)),
                         bench.batch_size * bank.build_views)
    return out
