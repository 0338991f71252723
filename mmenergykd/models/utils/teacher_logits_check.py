# Copyright (c) mmenergykd contributors. All rights reserved.
"""The base of every module that reads teacher logits and may check them."""
from torch import nn

__all__ = ['TeacherLogitsCheck']


class TeacherLogitsCheck(nn.Module):
    """A module that refuses NaN / Inf teacher logits unless told not to.

    The check reads a value back from the device (one synchronisation per
    call). Used on its own, a distillation loss or an energy consumer keeps
    it on; :class:`EnergyKDDistiller` checks the teacher's logits once per
    step and turns it off on every distill loss it builds.

    Attributes:
        check_finite (bool): Whether :meth:`forward` checks the teacher
            logits. Defaults to True.

    Example:
        >>> from mmenergykd.models.losses import KDLoss
        >>> isinstance(KDLoss(), TeacherLogitsCheck)
        True
    """

    def __init__(self) -> None:
        """Start with the check on."""
        super().__init__()
        self.check_finite = True
