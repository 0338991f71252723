# Copyright (c) mmenergykd contributors. All rights reserved.
"""Per-sample KD and DKD terms with a per-sample temperature."""
from typing import Union

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['per_sample_kd', 'per_sample_dkd']


def _as_column(temperature: Union[float, Tensor], logits: Tensor) -> Tensor:
    if isinstance(temperature, Tensor):
        return temperature.to(
            device=logits.device, dtype=torch.float32).reshape(-1, 1)
    return logits.new_full((logits.shape[0], 1), float(temperature))


def _kl_rows(log_p: Tensor, log_q: Tensor) -> Tensor:
    """Row-wise KL(p || q) from log-probabilities (0 * log 0 taken as 0)."""
    terms = log_p.exp() * (log_p - log_q)
    terms = torch.where(torch.isneginf(log_p), terms.new_zeros(()), terms)
    return terms.sum(dim=1)


def per_sample_kd(student_logits: Tensor, teacher_logits: Tensor,
                  temperature: Union[float, Tensor]) -> Tensor:
    """``T_i^2 * KL(softmax(t_i / T_i) || softmax(s_i / T_i))`` per sample.

    Args:
        student_logits (Tensor): Shape (B, C).
        teacher_logits (Tensor): Shape (B, C).
        temperature (float | Tensor): One temperature, or one per sample
            (shape (B,)).

    Returns:
        Tensor: float32 values of shape (B,).
    """
    s = student_logits.float()
    t = teacher_logits.float()
    temp = _as_column(temperature, s)
    log_ps = F.log_softmax(s / temp, dim=1)
    log_pt = F.log_softmax(t / temp, dim=1)
    return _kl_rows(log_pt, log_ps) * temp.squeeze(1)**2


def per_sample_dkd(student_logits: Tensor, teacher_logits: Tensor,
                   gt_labels: Tensor, temperature: Union[float, Tensor],
                   alpha: float, beta: float) -> Tensor:
    """Decoupled KD (Zhao et al., CVPR 2022) per sample.

    ``alpha * TCKD + beta * NCKD``, each multiplied by ``T_i^2``. TCKD is
    the KL divergence between the binary (target, non-target) distributions
    of teacher and student; NCKD the KL divergence between their
    distributions over the non-target classes only.

    Args:
        student_logits (Tensor): Shape (B, C).
        teacher_logits (Tensor): Shape (B, C).
        gt_labels (Tensor): Class indices of shape (B,).
        temperature (float | Tensor): One temperature or one per sample.
        alpha (float): Weight of TCKD.
        beta (float): Weight of NCKD.

    Returns:
        Tensor: float32 values of shape (B,).
    """
    s = student_logits.float()
    t = teacher_logits.float()
    num, num_classes = s.shape
    gt_labels = gt_labels.reshape(-1).long()
    temp = _as_column(temperature, s)
    gt_mask = F.one_hot(gt_labels, num_classes).bool()

    def binary_log_probs(logits: Tensor) -> Tensor:
        scaled = logits / temp
        log_total = torch.logsumexp(scaled, dim=1, keepdim=True)
        log_target = scaled.gather(1, gt_labels[:, None]) - log_total
        log_other = torch.logsumexp(
            scaled.masked_fill(gt_mask, float('-inf')), dim=1,
            keepdim=True) - log_total
        return torch.cat([log_target, log_other], dim=1)

    # Column indices of the C - 1 non-target classes of each row, in order:
    # a gather instead of boolean-mask indexing, which would read the mask's
    # size back from the device (a host-device synchronisation).
    columns = torch.arange(num_classes - 1, device=s.device).expand(num, -1)
    others_idx = columns + (columns >= gt_labels[:, None]).long()

    def non_target_log_probs(logits: Tensor) -> Tensor:
        others = (logits / temp).gather(1, others_idx)
        return F.log_softmax(others, dim=1)

    tckd = _kl_rows(binary_log_probs(t), binary_log_probs(s))
    nckd = _kl_rows(non_target_log_probs(t), non_target_log_probs(s))
    return (alpha * tckd + beta * nckd) * temp.squeeze(1)**2
