# Copyright (c) mmenergykd contributors. All rights reserved.
"""Where a step's teacher logits come from: the live teacher or a bank."""
from typing import List

import torch
from torch import Tensor, nn

from .step_errors import add_note, batch_name

__all__ = ['TeacherSourceMixin']


class TeacherSourceMixin:
    """The teacher side of ``EnergyKDDistiller``.

    Expects ``frozen_teacher`` (a ``FrozenTeacher``), ``teacher_bank`` (the
    configured bank path or None), ``bank`` (the opened ``TeacherBank`` or
    None) and ``check_finite_teacher`` on the class it is mixed into.
    """

    # The teacher's settings live on the FrozenTeacher only (one place).
    @property
    def check_finite_teacher(self) -> bool:
        """Raise on non-finite teacher logits (one device sync a step)."""
        return self.frozen_teacher.check_finite

    @check_finite_teacher.setter
    def check_finite_teacher(self, value: bool) -> None:
        self.frozen_teacher.check_finite = bool(value)

    @property
    def channels_last(self) -> bool:
        """Teacher, student and inputs in the channels_last format."""
        return self.frozen_teacher.channels_last

    @property
    def teacher_inference_mode(self) -> bool:
        """The teacher runs under ``torch.inference_mode``."""
        return self.frozen_teacher.inference_mode

    @property
    def teacher(self) -> nn.Module:
        """The frozen teacher classifier (not part of ``state_dict``)."""
        return self.frozen_teacher.model

    def teacher_logits(self, inputs: Tensor) -> Tensor:
        """Teacher logits (eval mode, no gradient, no loss), detached.

        Args:
            inputs (Tensor): Preprocessed images (B, C, H, W).

        Returns:
            Tensor: Logits of shape (B, num_classes).
        """
        return self.frozen_teacher.logits(inputs)

    def attach_teacher_bank(self, bank) -> None:
        """Look the teacher's logits up in ``bank`` (a ``TeacherBank``
        already checked against the config) instead of running it."""
        self.__dict__['bank'] = bank

    def teacher_logits_for(self, inputs: Tensor, data_samples: List) -> Tensor:
        """The teacher's logits of a training batch: from the teacher bank
        when one is attached (by ``sample_idx`` and the recorded view of each
        data sample), else from the live teacher.

        Args:
            inputs (Tensor): Preprocessed images (B, C, H, W).
            data_samples (list): Their data samples.

        Returns:
            Tensor: Logits of shape (B, num_classes).
        """
        if self.teacher_bank is None:
            return self.teacher_logits(inputs)
        if self.bank is None:
            raise ValueError(
                f'`model.teacher_bank` is {self.teacher_bank!r}, but no '
                'TeacherBankHook opened it: add '
                "dict(type='TeacherBankHook') to `custom_hooks` (it checks "
                'the bank against the config and makes the pipeline record '
                'views), or unset `model.teacher_bank`.')
        logits = self.bank.lookup(data_samples, inputs.device)
        if self.check_finite_teacher and not torch.isfinite(logits).all():
            raise ValueError('The teacher bank holds non-finite logits for '
                             'this batch; rebuild it.')
        return logits

    def _teacher_step(self,
                      inputs: Tensor,
                      data_samples: List,
                      banked: bool = True) -> Tensor:
        try:
            if banked:
                return self.teacher_logits_for(inputs, data_samples)
            return self.teacher_logits(inputs)
        except ValueError as err:
            raise ValueError(f'{batch_name(data_samples)}: {err}') from err
        except RuntimeError as err:
            add_note(err, batch_name(data_samples))
            raise
