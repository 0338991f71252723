# Copyright (c) mmenergykd contributors. All rights reserved.
"""The teacher's energy group of each validation sample, on request.

``EnergyKDDistiller.forward(mode='predict')`` runs the student only
(:func:`student_forward`). When
energy annotation is switched on (:func:`set_energy_annotation`; the
``EnergyCalibrationHook`` does so before a validation or test loop whose
evaluator lists ``EnergyGroupAccuracy``), it also runs the teacher once on
the batch and writes into every returned data sample:

- ``teacher_energy``: the teacher's energy at the energy loss's ``T_E``
  (float32 scalar tensor);
- ``energy_group``: 0 low, 1 middle, 2 high (int64 scalar tensor), from the
  energy loss's calibrated thresholds (the thresholds of training).

Cost: one teacher forward per validation batch (no gradient), only while
switched on; nothing is added otherwise.
"""
from typing import List, Optional, Union

from torch import Tensor

from mmenergykd.models.energy import EnergyConsumer, assign_energy_groups

__all__ = [
    'ENERGY_FIELD', 'GROUP_FIELD', 'set_energy_annotation',
    'energy_annotation_enabled', 'annotation_consumer', 'annotate_energies',
    'student_forward'
]

#: Data-sample fields written by :func:`annotate_energies`.
ENERGY_FIELD = 'teacher_energy'
GROUP_FIELD = 'energy_group'


def set_energy_annotation(model, enabled: bool) -> None:
    """Switch the energy annotation of ``forward(mode='predict')``.

    Args:
        model (EnergyKDDistiller): The distiller (not a DDP wrapper).
        enabled (bool): Annotate (one teacher forward per batch) or not.
    """
    model.annotate_energies = bool(enabled)


def energy_annotation_enabled(model) -> bool:
    """Whether ``forward(mode='predict')`` annotates energies.

    Args:
        model (EnergyKDDistiller): The distiller.

    Returns:
        bool: The switch (off unless :func:`set_energy_annotation` set it).
    """
    return model.annotate_energies


def annotation_consumer(model) -> Optional[EnergyConsumer]:
    """The consumer whose ``T_E`` and thresholds define the groups.

    The distiller's energy loss (its first distill loss with energy-chosen
    temperatures, as the training log's ``energy_low/mid/high``), else its
    first energy consumer (e.g. HE-DA on a KD run), else None.

    Args:
        model (EnergyKDDistiller): The distiller.

    Returns:
        EnergyConsumer | None: The consumer.
    """
    consumer = model.energy_loss()
    if consumer is None:
        consumer = next(iter(model.energy_consumers().values()), None)
    return consumer


def _checked_consumer(model) -> EnergyConsumer:
    consumer = annotation_consumer(model)
    if consumer is None:
        raise ValueError(
            'EnergyGroupAccuracy needs the teacher-energy groups of '
            'training, but the model has no energy loss or HE-DA '
            '(`model.distill_losses` holds no EnergyKDLoss / EnergyDKDLoss / '
            'EnergyMLKDLoss and no HighEnergyAugmentHook is configured). '
            'Remove EnergyGroupAccuracy from `val_evaluator` / '
            '`test_evaluator`, or use an energy loss.')
    if not consumer.is_calibrated:
        raise ValueError(
            'EnergyGroupAccuracy needs calibrated energy thresholds, but the '
            "model's energy thresholds are not set: no calibration pass ran "
            "(add dict(type='EnergyCalibrationHook') to `custom_hooks`), or "
            'the checkpoint given to tools/test.py (`load_from`) holds none.')
    return consumer


def annotate_energies(model, inputs: Tensor, data_samples: List) -> List:
    """Write ``teacher_energy`` and ``energy_group`` into the predictions.

    Does nothing unless :func:`energy_annotation_enabled`.

    Args:
        model (EnergyKDDistiller): The distiller (its ``teacher_logits``,
            energy loss and thresholds are used).
        inputs (Tensor): The preprocessed batch the student predicted on.
        data_samples (list): The student's predictions (``DataSample`` s),
            one per image.

    Returns:
        list: ``data_samples``, annotated in place when switched on.
    """
    if not energy_annotation_enabled(model) or not data_samples:
        return data_samples
    consumer = _checked_consumer(model)
    # The teacher's logits are checked where they are made (FrozenTeacher).
    energies = consumer.energies(
        model.teacher_logits(inputs), check_finite=False)
    groups = assign_energy_groups(energies,
                                  consumer.low_threshold.to(energies.device),
                                  consumer.high_threshold.to(energies.device))
    for sample, energy, group in zip(data_samples, energies.cpu(),
                                     groups.cpu()):
        sample.set_field(energy, ENERGY_FIELD)
        sample.set_field(group, GROUP_FIELD)
    return data_samples


def student_forward(model, inputs: Tensor, data_samples: Optional[List],
                    mode: str) -> Union[List, Tensor]:
    """``EnergyKDDistiller.forward`` for ``mode='predict'`` / ``'tensor'``.

    The student on the inputs (in the teacher's memory format); in
    ``'predict'`` mode the predictions are annotated by
    :func:`annotate_energies` (nothing happens unless switched on).

    Args:
        model (EnergyKDDistiller): The distiller.
        inputs (Tensor): Preprocessed images.
        data_samples (list, optional): The batch's data samples.
        mode (str): ``'predict'`` or ``'tensor'``.

    Returns:
        list | Tensor: The student's predictions (data samples) or logits.
    """
    results = model.student(
        model.frozen_teacher.format(inputs), data_samples, mode=mode)
    if mode == 'predict':
        results = annotate_energies(model, inputs, results)
    return results
