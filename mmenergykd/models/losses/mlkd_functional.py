# Copyright (c) mmenergykd contributors. All rights reserved.
"""The terms of Multi-Level Logit Distillation (MLKD, Jin et al., CVPR 2023).

Written from the formula of the official MLKD code (see
:class:`~mmenergykd.models.losses.MLKDLoss` for its quirks). Every term
takes the temperature as one number or as one value per sample, so the same
code computes MLKD and the per-sample-temperature reading of Energy MLKD.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from .functional import per_sample_kd

__all__ = ['mlkd_confidence_shares', 'consistency', 'mlkd_bracket']

Temperature = Union[float, Tensor]


def _probs(logits: Tensor, temperature: Temperature) -> Tensor:
    """``softmax(logits_i / T_i)`` row by row, in float32."""
    logits = logits.float()
    if isinstance(temperature, Tensor):
        temperature = temperature.to(
            device=logits.device, dtype=torch.float32).reshape(-1, 1)
    else:
        temperature = logits.new_full((logits.shape[0], 1), float(temperature))
    return F.softmax(logits / temperature, dim=1)


def consistency(student_logits: Tensor, teacher_logits: Tensor,
                temperature: Temperature, level: str) -> Tensor:
    """MLKD's batch- or class-level term, the gap between Gram matrices.

    ``level='batch'``: ``sum((P_t P_t^T - P_s P_s^T)^2) / B``;
    ``level='class'``: ``sum((P_t^T P_t - P_s^T P_s)^2) / C``.

    Args:
        student_logits (Tensor): Shape (B, C).
        teacher_logits (Tensor): Shape (B, C).
        temperature (float | Tensor): One temperature, or one per sample
            (shape (B,)); ``P = softmax(logits_i / T_i)`` row by row.
        level (str): ``'batch'`` (B x B Gram matrices, over samples) or
            ``'class'`` (C x C, over classes).

    Returns:
        Tensor: A float32 scalar.
    """
    p_s = _probs(student_logits, temperature)
    p_t = _probs(teacher_logits, temperature)
    if level == 'class':
        p_s, p_t = p_s.t(), p_t.t()
    gram_s = p_s @ p_s.t()
    gram_t = p_t @ p_t.t()
    return (gram_t - gram_s).pow(2).sum() / p_s.shape[0]


def _share_at_most_median(values: Tensor) -> Tensor:
    """Share of ``values`` that are ``<=`` their median.

    The official code compares with ``<=`` against NumPy's 50th percentile
    with linear interpolation. That median lies at sorted position
    ``(n - 1) / 2``: for even ``n``, between the two middle values, so no
    value lies strictly between it and the lower middle value. The share is
    therefore exactly that of the values ``<=`` the lower middle value
    (``sorted[(n - 1) // 2]``), taken here without interpolating, so no
    rounding of the midpoint can move a value across it. Computed on the
    device (no host sync).
    """
    lower_middle = torch.kthvalue(values, (values.numel() - 1) // 2 + 1)
    return (values <= lower_middle.values).float().mean()


def mlkd_confidence_shares(teacher_weak: Tensor) -> Tuple[Tensor, Tensor]:
    """The shares ``m`` and ``m_c`` that scale MLKD's masked terms.

    ``conf_i = max_c softmax(t_w)_ic`` and ``m`` is the share of samples
    with ``conf_i <= median(conf)``; ``cls_c = sum_i softmax(t_w)_ic`` and
    ``m_c`` is the share of classes with ``cls_c <= median(cls)``. The
    softmax is at temperature 1, whatever the distillation temperatures.

    Args:
        teacher_weak (Tensor): Teacher logits of the weak view, (B, C).

    Returns:
        tuple[Tensor, Tensor]: ``(m, m_c)``, float32 scalars in (0, 1].
    """
    probs = F.softmax(teacher_weak.detach().float(), dim=1)
    sample_conf = probs.max(dim=1).values
    class_conf = probs.sum(dim=0)
    return (_share_at_most_median(sample_conf),
            _share_at_most_median(class_conf))


def _scaled(temperature: float, scale: Optional[Tensor]) -> Temperature:
    """``T`` itself, or ``T * scale_i`` per sample."""
    return temperature if scale is None else temperature * scale


def mlkd_bracket(student_weak: Tensor,
                 student_strong: Tensor,
                 teacher_weak: Tensor,
                 teacher_strong: Tensor,
                 temperatures: Sequence[float],
                 scale: Optional[Tensor] = None) -> Tensor:
    """The bracket of the official MLKD loss (before ``w_kd``).

    ``m * sum_T kd(s_w, t_w, T) + sum_k kd(view_k, T_k)
    + m_c * sum_T cc(s_w, t_w, T) + m * sum_T bc(s_w, t_w, T)``, where the
    second ("strong") sum takes the strong-view logits for the first three
    temperatures and the weak-view logits for the others (with the default
    ``(4, 3, 5, 2, 6)``: strong at 4, 3, 5 and weak at 2, 6, as in the
    official code). See :class:`MLKDLoss`.

    Args:
        student_weak (Tensor): Student logits of the weak view, (B, C).
        student_strong (Tensor): Student logits of the strong view, (B, C).
        teacher_weak (Tensor): Teacher logits of the weak view, (B, C).
        teacher_strong (Tensor): Teacher logits of the strong view, (B, C).
        temperatures (Sequence[float]): The temperature set.
        scale (Tensor, optional): Per-sample factor (B,) multiplying every
            temperature of sample i in every term (Energy MLKD). None: MLKD.

    Returns:
        Tensor: A float32 scalar.
    """
    s_w, s_s = student_weak.float(), student_strong.float()
    t_w, t_s = teacher_weak.detach().float(), teacher_strong.detach().float()
    share, class_share = mlkd_confidence_shares(t_w)
    temps = [_scaled(float(t), scale) for t in temperatures]

    def kd(student: Tensor, teacher: Tensor, temp: Temperature) -> Tensor:
        return per_sample_kd(student, teacher, temp).mean()

    kd_weak = sum(kd(s_w, t_w, temp) for temp in temps)
    kd_strong = sum(
        kd(s_s, t_s, temp) if k < 3 else kd(s_w, t_w, temp)
        for k, temp in enumerate(temps))
    cc_weak = sum(consistency(s_w, t_w, temp, 'class') for temp in temps)
    bc_weak = sum(consistency(s_w, t_w, temp, 'batch') for temp in temps)
    return (share * kd_weak + kd_strong + class_share * cc_weak +
            share * bc_weak)
