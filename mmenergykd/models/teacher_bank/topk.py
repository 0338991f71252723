# Copyright (c) mmenergykd contributors. All rights reserved.
"""Top-k logits plus the exact log-sum-exp: encode and reconstruct."""
import math
from typing import Dict, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ['encode_topk', 'reconstruct_logits', 'topk_kl']

# log of the smallest rest mass kept (the top-k hold all the rest).
_MIN_LOG_REST = -80.0


def encode_topk(logits: Tensor, k: int,
                temperature: float) -> Tuple[Tensor, Tensor, Tensor]:
    """The ``k`` largest logits, their classes and ``logsumexp(logits /
    temperature)`` (float32), per row of ``logits`` (..., C)."""
    logits = logits.float()
    values, indices = logits.topk(k, dim=-1)
    return values, indices, torch.logsumexp(logits / temperature, dim=-1)


def reconstruct_logits(values: Tensor, indices: Tensor, lse: Tensor,
                       num_classes: int, temperature: float) -> Tensor:
    """Logits with the given top-``k`` and ``logsumexp(. / temperature)``.

    The top-k classes get their stored logits; the other ``C - k`` classes
    share the rest of the probability mass at ``temperature`` equally, so
    the energy ``-temperature * lse`` of the result is the stored one.

    Args:
        values (Tensor): (..., k) top-k logits.
        indices (Tensor): (..., k) their classes.
        lse (Tensor): (...) ``logsumexp(logits / temperature)``.
        num_classes (int): C.
        temperature (float): The temperature of ``lse``.

    Returns:
        Tensor: (..., C) float32 logits.
    """
    values, lse = values.float(), lse.float()
    k = values.shape[-1]
    shape = values.shape[:-1] + (num_classes, )
    if k == num_classes:
        fill = values.new_zeros(values.shape[:-1])
    else:
        covered = torch.logsumexp(values / temperature, dim=-1)
        gap = (covered - lse).clamp(max=0)
        # log(exp(lse) - exp(covered)) = lse + log(1 - exp(gap))
        rest = lse + torch.log(-torch.expm1(gap)).clamp(min=_MIN_LOG_REST)
        fill = temperature * (rest - math.log(num_classes - k))
    out = fill.unsqueeze(-1).expand(shape).clone()
    return out.scatter_(-1, indices.long(), values)


def topk_kl(logits: Tensor, k: int, energy_temperature: float,
            temperatures: Sequence[float]) -> Dict[str, Tensor]:
    """KL(softmax(z / T) || softmax(z_k / T)) per row, for each ``T``, where
    ``z_k`` is ``logits`` reconstructed from its top-``k`` and its
    ``logsumexp`` at ``energy_temperature``.

    Returns:
        dict: ``str(T)`` -> (N,) KL divergences (nats).
    """
    logits = logits.float()
    recon = reconstruct_logits(*encode_topk(logits, k, energy_temperature),
                               logits.shape[-1], energy_temperature)
    out = {}
    for t in temperatures:
        log_p = torch.log_softmax(logits / t, dim=-1)
        log_q = torch.log_softmax(recon / t, dim=-1)
        out[str(float(t))] = (log_p.exp() * (log_p - log_q)).sum(-1)
    return out
