# Copyright (c) mmenergykd contributors. All rights reserved.
"""Open the run's teacher bank, checked against the whole config."""
from mmengine.dataset import Compose
from mmengine.hooks import Hook

from mmenergykd.datasets.transforms import recording_pipeline
from mmenergykd.engine.calibration_policy import unwrap_distiller
from mmenergykd.models.teacher_bank import TeacherBank
from mmenergykd.registry import HOOKS

__all__ = ['TeacherBankHook']


def _innermost(dataset):
    """The dataset under MMEngine's wrappers (they keep it as
    ``.dataset``), whose pipeline makes the training images."""
    while not hasattr(dataset, 'pipeline') and hasattr(dataset, 'dataset'):
        dataset = dataset.dataset
    return dataset


@HOOKS.register_module()
class TeacherBankHook(Hook):
    """Train from a teacher bank (``model.teacher_bank``) instead of the
    live teacher.

    Before anything runs (``before_run``, before calibration and before any
    checkpoint is loaded), the bank is opened and checked against the config:
    a bank built with another teacher checkpoint, dataset, split, pipeline or
    preprocessing, or one that is truncated or was never finished, is
    refused with the command that rebuilds it. The training dataset's
    pipeline is switched to its recording form (``RandomCrop`` ->
    ``ViewRandomCrop``, ...: the same random draws, so the same images),
    which writes each sample's view into its data sample; the distiller then
    looks the teacher's logits up by ``(sample_idx, view)``. The calibration
    pass reads the bank the same way. HE-DA's mixed images and MLKD's
    strong views still run the live teacher (an exact bank cannot hold
    them: ``recording_pipeline`` refuses ``RandAugment``).

    Does nothing when ``model.teacher_bank`` is unset.

    Example:
        >>> model = dict(type='EnergyKDDistiller', teacher_bank='bank/', ...)
        >>> custom_hooks = [dict(type='TeacherBankHook')]
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        model = unwrap_distiller(runner.model)
        if model.teacher_bank is None:
            return
        dataset = _innermost(runner.train_dataloader.dataset)
        bank = TeacherBank.open(
            model.teacher_bank,
            expect=TeacherBank.expect_from_config(
                runner.cfg, dataset_len=len(dataset)))
        pipeline = runner.cfg.train_dataloader.dataset.get('pipeline', [])
        dataset.pipeline = Compose(
            recording_pipeline(pipeline, **bank.recording_kwargs()))
        model.attach_teacher_bank(bank)
        runner.logger.info(f'Teacher logits from {bank!r}; the training '
                           'pipeline records each sample\'s view.')

    def before_train(self, runner) -> None:
        # Every energy consumer is attached by now (HE-DA in its hook's
        # before_run): a sampled bank's exact energy is at one T_E only.
        model = unwrap_distiller(runner.model)
        if model.bank is None:
            return
        for consumer in model.energy_consumers().values():
            model.bank.check_energy_temperature(consumer.energy_temperature)
