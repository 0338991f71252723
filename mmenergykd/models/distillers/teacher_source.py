# Copyright (c) mmenergykd contributors. All rights reserved.
"""Where a step's teacher logits come from: the live teacher or a bank."""
from typing import List, Optional

import torch
from torch import Tensor, nn

from mmenergykd.models.utils import (TeacherInputAdapter, build_classifier,
                                     build_teacher_input, resolve_model_source,
                                     resolve_teacher_checkpoint,
                                     zoo_download_errors)
from .frozen_teacher import FrozenTeacher
from .model_checks import check_num_classes

__all__ = ['TeacherSource']


class TeacherSource:
    """The teacher side of a distillation step: one call for its logits.

    Holds the :class:`FrozenTeacher` and, when ``model.teacher_bank`` is
    set, the ``TeacherBank`` attached by ``TeacherBankHook`` (which checks
    it against the whole config first). A plain object, not an
    ``nn.Module``: the distiller holding it keeps the teacher out of its
    ``state_dict``, ``parameters()`` and ``train()``.

    Every live teacher call goes through ``input_adapter``, which turns
    the run's batch (the student's preprocessing) into the teacher's own
    input (its normalisation, channel order and input size): the step's
    views, HE-DA's mixed images and the calibration pass alike.

    Args:
        frozen_teacher (FrozenTeacher): The live teacher.
        input_adapter (TeacherInputAdapter): The student's batch -> the
            teacher's input (the batch itself when both preprocess alike).
        bank_path (str, optional): ``model.teacher_bank``, the configured
            bank; None: the live teacher computes every logit.
    """

    def __init__(self,
                 frozen_teacher: FrozenTeacher,
                 input_adapter: TeacherInputAdapter,
                 bank_path: Optional[str] = None) -> None:
        self.frozen_teacher = frozen_teacher
        self.input_adapter = input_adapter
        self.bank_path = bank_path
        self.bank = None

    @classmethod
    def build(cls,
              teacher,
              teacher_ckpt: Optional[str],
              data_preprocessor: nn.Module,
              settings: dict,
              channels_last: bool = False,
              bank_path: Optional[str] = None,
              input_size=None,
              student: Optional[nn.Module] = None) -> 'TeacherSource':
        """The teacher source of a distiller's settings.

        Args:
            teacher (dict | str): ``model.teacher``: a model dict, a config
                or a model name of MMPretrain's model index.
            teacher_ckpt (str, optional): ``model.teacher_ckpt``; None: the
                published weights of a model-index name (unless
                ``settings['allow_random']``), else see
                :meth:`FrozenTeacher.from_model`.
            data_preprocessor (nn.Module): The distiller's data
                preprocessor (what the batches went through).
            settings (dict): ``model.teacher_settings``, checked.
            channels_last (bool): ``model.channels_last``.
            bank_path (str, optional): ``model.teacher_bank``.
            input_size (int | tuple, optional):
                ``model.teacher_input_size``.
            student (nn.Module, optional): The student, whose class count
                the teacher's must equal (checked before the teacher's
                weights are read, so a wrong ``num_classes`` is named as
                such rather than as a checkpoint mismatch).

        Returns:
            TeacherSource: The live teacher (loaded, frozen) and its input
            adapter.
        """
        source = resolve_model_source(teacher, 'teacher')
        checkpoint = resolve_teacher_checkpoint(
            source, teacher_ckpt, settings.get('allow_random', False))
        model = build_classifier(source.model, 'teacher')
        if student is not None:
            check_num_classes(student, model)
        with zoo_download_errors(source, checkpoint):
            frozen_teacher = FrozenTeacher.from_model(
                model, checkpoint, channels_last=channels_last, **settings)
        return cls(frozen_teacher,
                   build_teacher_input(source, data_preprocessor, input_size),
                   bank_path)

    def teacher_input(self, inputs: Tensor) -> Tensor:
        """The teacher's own input for the run's batch ``inputs`` (the
        batch itself when both preprocess alike)."""
        return self.input_adapter(inputs)

    def attach_bank(self, bank) -> None:
        """Look the logits up in ``bank`` (a ``TeacherBank`` already checked
        against the config, or None to detach it)."""
        self.bank = bank

    def logits(self,
               inputs: Tensor,
               data_samples: Optional[List] = None,
               banked: bool = True) -> Tensor:
        """The teacher's logits of ``inputs``, checked and detached.

        From the attached bank when ``model.teacher_bank`` is set and
        ``banked`` (by ``sample_idx`` and the recorded view of each data
        sample), else from the live teacher (eval mode, no gradient).

        Args:
            inputs (Tensor): Preprocessed images (B, C, H, W).
            data_samples (list, optional): Their data samples (needed for a
                bank lookup).
            banked (bool): Whether these images may be in the bank: False
                for images made in the step (a strong view, HE-DA's mix).

        Returns:
            Tensor: Logits of shape (B, num_classes).
        """
        if not banked or self.bank_path is None:
            return self.frozen_teacher.logits(self.teacher_input(inputs))
        if self.bank is None:
            raise ValueError(
                f'`model.teacher_bank` is {self.bank_path!r}, but no '
                'TeacherBankHook opened it: add '
                "dict(type='TeacherBankHook') to `custom_hooks` (it checks "
                'the bank against the config and makes the pipeline record '
                'views), or unset `model.teacher_bank`.')
        logits = self.bank.lookup(data_samples, inputs.device)
        if self.frozen_teacher.check_finite and \
                not torch.isfinite(logits).all():
            raise ValueError('The teacher bank holds non-finite logits for '
                             'this batch; rebuild it.')
        return logits
