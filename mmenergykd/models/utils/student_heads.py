# Copyright (c) mmenergykd contributors. All rights reserved.
"""A student's heads: one classifier, or a class and a distillation head.

MMPretrain ships students with a distillation token (DeiT's
``DeiTClsHead``) or a distillation head (``LeViTClsHead(distillation=
True)``) but cannot train them: ``DeiTClsHead.forward`` returns the average
of its two heads and warns in training, LeViT's head raises. A distiller
trains them as the DeiT paper does: the class head learns from the labels
(the head's own loss), the distillation head from the teacher (the distill
losses aimed at it with ``student_head='dist'``). Prediction stays
MMPretrain's own (the average of the two heads, in eval mode).
"""
import copy
from typing import Dict, List, Mapping, Tuple, Union

from torch import Tensor, nn

__all__ = [
    'HEAD_KEY', 'StudentHeads', 'DeiTHeads', 'LeViTHeads', 'student_heads_for',
    'pop_head_targets', 'check_head_targets'
]

#: The key of a distill loss entry naming the student head it trains.
HEAD_KEY = 'student_head'


class StudentHeads:
    """The logits of each head of a student (base: one head, ``'cls'``).

    Args:
        head (nn.Module): The student's head.
    """

    #: The heads' names; ``'cls'`` is the one the labels train.
    names: Tuple[str, ...] = ('cls', )

    def __init__(self, head: nn.Module) -> None:
        self.head = head

    def __call__(self, feats) -> Dict[str, Tensor]:
        """The logits of each head.

        Args:
            feats: The student's ``extract_feat`` output.

        Returns:
            dict[str, Tensor]: Head name -> logits (B, num_classes).
        """
        return {'cls': self.head(feats)}

    @property
    def has_dist(self) -> bool:
        """Whether the student has a distillation head."""
        return 'dist' in self.names

    def check_targets(self, targets: Mapping[str, str]) -> None:
        """Refuse distill losses aimed at heads this student lacks, and a
        distillation head no loss trains (:func:`check_head_targets`).

        Args:
            targets (dict): Distill loss name -> the head it trains.
        """
        check_head_targets(targets, self, type(self.head).__name__)

    def head_losses(self, logits: List[Dict[str, Tensor]], data_samples: List,
                    weight: float) -> Dict[str, Tensor]:
        """The head's own loss (labels) on the class head's logits, summed
        over the views and weighted: ``loss_cls`` (and ``cls_*`` for the
        head's other terms).

        Args:
            logits (list[dict]): Per view, the logits of each head.
            data_samples (list): The batch's data samples (labels).
            weight (float): ``student_loss_weight``.

        Returns:
            dict[str, Tensor]: The weighted terms.
        """
        losses: Dict[str, Tensor] = {}
        for view in logits:
            terms = self.head._get_loss(view['cls'], data_samples)
            for key, value in terms.items():
                name = 'loss_cls' if key == 'loss' else f'cls_{key}'
                value = value * weight
                losses[name] = losses[name] + value if name in losses \
                    else value
        return losses


class DeiTHeads(StudentHeads):
    """``DeiTClsHead``: the class token's and the distillation token's
    linear heads (``layers.head``, ``layers.head_dist``) on
    ``head.pre_logits(feats)``."""

    names = ('cls', 'dist')

    def __call__(self, feats) -> Dict[str, Tensor]:
        """See :meth:`StudentHeads.__call__`."""
        cls_token, dist_token = self.head.pre_logits(feats)
        return {
            'cls': self.head.layers.head(cls_token),
            'dist': self.head.layers.head_dist(dist_token)
        }


class LeViTHeads(StudentHeads):
    """``LeViTClsHead(distillation=True)``: ``head.head`` and
    ``head.head_dist`` on the same pooled features."""

    names = ('cls', 'dist')

    def __call__(self, feats) -> Dict[str, Tensor]:
        """See :meth:`StudentHeads.__call__`."""
        x = self.head.pre_logits(feats)
        return {'cls': self.head.head(x), 'dist': self.head.head_dist(x)}


def student_heads_for(head: nn.Module) -> StudentHeads:
    """The :class:`StudentHeads` of a student's head.

    Args:
        head (nn.Module): The student's head.

    Returns:
        StudentHeads: Two heads for ``DeiTClsHead`` and
        ``LeViTClsHead(distillation=True)``, else one.
    """
    from mmpretrain.models.heads import DeiTClsHead, LeViTClsHead
    if isinstance(head, DeiTClsHead):
        return DeiTHeads(head)
    if isinstance(head, LeViTClsHead) and head.distillation:
        if head.deploy:
            raise ValueError(
                '`model.student.head` is a LeViTClsHead with deploy=True '
                '(batch norms fused for inference): it cannot be trained. '
                'Set `deploy=False`.')
        return LeViTHeads(head)
    return StudentHeads(head)


def pop_head_targets(
    distill_losses: Mapping[str, Union[dict, nn.Module]]
) -> Tuple[Dict[str, Union[dict, nn.Module]], Dict[str, str]]:
    """Split ``student_head`` off each distill loss entry.

    Args:
        distill_losses (dict): Name -> loss config (or module).

    Returns:
        tuple: The configs without ``student_head`` (copies; modules as
        given) and name -> the student head each loss trains (default
        ``'cls'``).
    """
    configs, targets = {}, {}
    for name, cfg in distill_losses.items():
        target = 'cls'
        if isinstance(cfg, Mapping):
            cfg = copy.deepcopy(dict(cfg))
            target = cfg.pop(HEAD_KEY, 'cls')
        if not isinstance(target, str):
            raise TypeError(f'model.distill_losses.{name}.{HEAD_KEY} must '
                            f"be a head name ('cls' or 'dist'), got "
                            f'{target!r}.')
        configs[name], targets[name] = cfg, target
    return configs, targets


def check_head_targets(targets: Mapping[str, str], heads: StudentHeads,
                       head_type: str) -> None:
    """Refuse a loss aimed at a head the student lacks, and a distillation
    head no loss trains.

    Args:
        targets (dict): Distill loss name -> the head it trains.
        heads (StudentHeads): The student's heads.
        head_type (str): The student's head class (for messages).
    """
    for name, target in targets.items():
        if target not in heads.names:
            raise ValueError(
                f"model.distill_losses.{name}.{HEAD_KEY} is {target!r}, but "
                f'the student\'s head ({head_type}) has the heads '
                f'{list(heads.names)}. Aim the loss at one of those; '
                "'dist' needs a student with a distillation token "
                "(DeiTClsHead) or head (LeViTClsHead(distillation=True)).")
    if heads.has_dist and 'dist' not in targets.values():
        raise ValueError(
            f"The student's head ({head_type}) has a distillation head, "
            'but no distill loss trains it, so it would stay at its '
            'initialisation and spoil the averaged prediction. Aim a '
            f"distill loss at it with {HEAD_KEY}='dist', e.g. "
            "distill_losses=dict(loss_hard=dict(type='HardDistillLoss', "
            f"{HEAD_KEY}='dist')) (DeiT), or use the student without "
            'distillation token (VisionTransformerClsHead).')
