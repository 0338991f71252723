# Copyright (c) mmenergykd contributors. All rights reserved.
"""Open the run's teacher bank, checked against the whole config and
against the checksums of its contents."""
import os.path as osp
import time
from typing import Dict, Optional

from mmengine import dist
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmenergykd.datasets import innermost_dataset
from mmenergykd.datasets.transforms import recording_pipeline
from mmenergykd.engine.calibration_policy import unwrap_distiller
from mmenergykd.models.distillers import EnergyKDDistiller
from mmenergykd.models.teacher_bank import TeacherBank
from mmenergykd.registry import HOOKS

__all__ = ['TeacherBankHook']


def _config_for_commands(runner) -> str:
    """The config a rebuild command should name: the run's config file when
    ``--cfg-options`` changed nothing a bank depends on, else the run's
    merged config, which MMEngine dumped into the work dir."""
    cfg = runner.cfg
    dumped = osp.join(
        runner.work_dir,
        osp.basename(cfg.filename)
        if cfg.filename else f'{runner.timestamp}.py')
    if not cfg.filename:
        return dumped

    def parts(config) -> dict:
        model = {k: v for k, v in config.model.items() if k != 'teacher_bank'}
        return dict(
            model=model,
            dataset=config.train_dataloader.dataset,
            data_preprocessor=config.get('data_preprocessor'))

    try:
        same = parts(Config.fromfile(cfg.filename)) == parts(cfg)
    except Exception:  # a config that only loads with its options
        same = False
    return cfg.filename if same or not osp.isfile(dumped) else dumped


def _verify_shared(bank: TeacherBank, expect: Dict) -> float:
    """Check every chunk of ``bank`` against its checksum, each rank a
    contiguous share; every rank raises the same error when any chunk is
    damaged. Returns the seconds this rank took."""
    rank, world = dist.get_rank(), dist.get_world_size()
    num = bank.num_chunks
    tic = time.perf_counter()
    damaged = bank.damaged_chunks(
        range(rank * num // world, (rank + 1) * num // world))
    seconds = time.perf_counter() - tic
    if world > 1:
        for part in dist.all_gather_object(damaged):
            damaged.update(part)
    if damaged:
        raise bank.damage_error(damaged, expect)
    return seconds


@HOOKS.register_module()
class TeacherBankHook(Hook):
    """Train from a teacher bank (``model.teacher_bank``) instead of the
    live teacher.

    Every shipped config declares this hook (``default_hooks.teacher_bank``
    in ``configs/_base_/default_runtime.py``), so ``--cfg-options
    model.teacher_bank=BANK`` is the whole switch; without
    ``model.teacher_bank`` it does nothing.

    Before anything runs (``before_run``, before calibration and before any
    checkpoint is loaded), the bank is opened and checked against the config:
    a bank built with another teacher checkpoint, dataset, split, pipeline or
    preprocessing, or one that is truncated or was never finished, is
    refused with the command that rebuilds it (naming the run's config file,
    or the merged config MMEngine dumped into the work dir when
    ``--cfg-options`` changed what the bank depends on); then every chunk
    is checked
    against the CRC-32 its header keeps (under DDP each rank checks a share),
    and a damaged bank is refused naming the chunks, their samples and the
    command that rebuilds just them. The training dataset's pipeline is
    switched to its recording form (``RandomCrop`` -> ``ViewRandomCrop``,
    ...: the same random draws, so the same images), which writes each
    sample's view into its data sample; the distiller then looks the
    teacher's logits up by ``(sample_idx, view)``. The calibration pass
    reads the bank the same way. HE-DA's mixed images and MLKD's strong
    views still run the live teacher (an exact bank cannot hold them:
    ``recording_pipeline`` refuses ``RandAugment``). A second
    ``TeacherBankHook`` (a config that also lists it in ``custom_hooks``)
    leaves the work to the first.

    Example:
        >>> python tools/train.py CONFIG --cfg-options model.teacher_bank=BANK
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self.bank: Optional[TeacherBank] = None

    def _is_first(self, runner) -> bool:
        first = next(h for h in runner.hooks if isinstance(h, TeacherBankHook))
        return first is self

    def before_run(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        # Declared by every config's runtime: nothing to do for a plain
        # classifier (a teacher's own config) or a run without a bank.
        if not isinstance(model, EnergyKDDistiller) or \
                model.teacher_bank is None or not self._is_first(runner):
            return
        dataset = innermost_dataset(runner.train_dataloader.dataset)
        expect = TeacherBank.expect_from_config(
            runner.cfg, dataset_len=len(dataset))
        expect['_config'] = _config_for_commands(runner)
        bank = TeacherBank.open(
            model.teacher_bank, expect=expect, verify=False)
        seconds = _verify_shared(bank, expect)
        pipeline = runner.cfg.train_dataloader.dataset.get('pipeline', [])
        dataset.pipeline = Compose(
            recording_pipeline(pipeline, **bank.recording_kwargs()))
        model.attach_teacher_bank(bank)
        self.bank = bank
        runner.logger.info(
            f'Teacher logits from {bank!r}: its {bank.num_chunks} chunks '
            f"({bank.header['nbytes'] / 2**20:.1f} MiB) match their "
            f'checksums (checked in {seconds:.2f} s); the training pipeline '
            "records each sample's view.")

    def before_train(self, runner) -> None:
        # Every energy consumer is attached by now (HE-DA in its hook's
        # before_run): a sampled bank's exact energy is at one T_E only.
        if self.bank is None:
            return
        model = unwrap_distiller(runner.model)
        for consumer in model.energy_consumers().values():
            self.bank.check_energy_temperature(consumer.energy_temperature)
