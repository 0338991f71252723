# Copyright (c) mmenergykd contributors. All rights reserved.
"""Where a step's teacher logits come from: the live teacher or a bank."""
from typing import List, Optional

import torch
from torch import Tensor

from .frozen_teacher import FrozenTeacher

__all__ = ['TeacherSource']


class TeacherSource:
    """The teacher side of a distillation step: one call for its logits.

    Holds the :class:`FrozenTeacher` and, when ``model.teacher_bank`` is
    set, the ``TeacherBank`` attached by ``TeacherBankHook`` (which checks
    it against the whole config first). A plain object, not an
    ``nn.Module``: the distiller holding it keeps the teacher out of its
    ``state_dict``, ``parameters()`` and ``train()``.

    Args:
        frozen_teacher (FrozenTeacher): The live teacher.
        bank_path (str, optional): ``model.teacher_bank``, the configured
            bank; None: the live teacher computes every logit.
    """

    def __init__(self,
                 frozen_teacher: FrozenTeacher,
                 bank_path: Optional[str] = None) -> None:
        self.frozen_teacher = frozen_teacher
        self.bank_path = bank_path
        self.bank = None

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
            return self.frozen_teacher.logits(inputs)
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
