# Copyright (c) mmenergykd contributors. All rights reserved.
"""The distiller's table of distillation losses: built, checked, computed."""
import warnings
from typing import Dict, List, Mapping, Optional, Union

import torch
from mmengine.logging import MessageHub
from torch import Tensor, nn

from mmenergykd.models.energy import (HIGH, LOW, MID, EnergyConsumer,
                                      EnergyTemperatureLoss, group_shares)
from mmenergykd.models.utils import pop_head_targets
from mmenergykd.registry import MODELS
from mmenergykd.utils.validation import teacher_logits_checked

__all__ = [
    'DISTILL_INPUTS', 'TWO_VIEW_INPUTS', 'DistillLosses', 'check_two_views',
    'check_warmup_epochs'
]

#: The inputs of a loss on two views of each image (MLKD).
TWO_VIEW_INPUTS = ('student_weak', 'student_strong', 'teacher_weak',
                   'teacher_strong')
#: What a distill loss's ``forward`` may take (its ``distill_inputs``).
DISTILL_INPUTS = (('student_logits', 'teacher_logits'),
                  ('student_logits', 'teacher_logits',
                   'gt_labels'), TWO_VIEW_INPUTS)


def _build_one(name: str, cfg: Union[dict, nn.Module]) -> nn.Module:
    if 'loss' not in name:
        raise ValueError(
            f'distill loss name {name!r} in `model.distill_losses` must '
            'contain "loss" so that MMEngine adds it to the total: rename it '
            f'(e.g. "loss_{name}").')
    try:
        return cfg if isinstance(cfg, nn.Module) else MODELS.build(cfg)
    except (ValueError, TypeError) as err:
        raise type(err)(f'model.distill_losses.{name}: {err}') from err
    except KeyError as err:  # unknown type / no type
        reason = err.args[0] if err.args else err
        raise KeyError(
            f'model.distill_losses.{name}: {reason} Use one of '
            'KDLoss, DKDLoss, EnergyKDLoss, EnergyDKDLoss, MLKDLoss, '
            'EnergyMLKDLoss (with '
            '`import mmenergykd` in `custom_imports`).') from err


def _check_inputs(name: str, module: nn.Module) -> None:
    inputs = getattr(module, 'distill_inputs', None)
    if isinstance(inputs, (list, tuple)) and tuple(inputs) in DISTILL_INPUTS:
        module.distill_inputs = tuple(inputs)
        return
    what = ('has no `distill_inputs` saying what it takes'
            if inputs is None else f'declares `distill_inputs={inputs!r}`')
    raise TypeError(
        f'model.distill_losses.{name}: {type(module).__name__} is not a '
        f'distillation loss (it {what}). Use KDLoss, DKDLoss, EnergyKDLoss, '
        'EnergyDKDLoss, MLKDLoss or EnergyMLKDLoss; a loss of your own needs '
        "`distill_inputs = ('student_logits', 'teacher_logits')` (or with "
        f"'gt_labels' last, or the two-view {TWO_VIEW_INPUTS}) and that "
        "forward signature. The student's own label loss is "
        '`model.student.head.loss` weighted by `model.student_loss_weight`.')


def check_warmup_epochs(warmup: Optional[Mapping[str, int]],
                        losses: Mapping[str, nn.Module]) -> Dict[str, int]:
    """``loss_warmup_epochs`` as a dict, each name a distill loss.

    Args:
        warmup (dict, optional): Loss name -> epochs of linear warm-up.
        losses (dict): The distill losses, by name.

    Returns:
        dict[str, int]: The checked warm-up table.
    """
    if warmup is not None and not isinstance(warmup, Mapping):
        raise TypeError(
            '`model.loss_warmup_epochs` must be a dict of distill loss name '
            '-> number of epochs, e.g. dict(loss_dkd=20), got '
            f'{warmup!r}.')
    warmup = dict(warmup or {})
    for name, epochs in warmup.items():
        if name not in losses:
            raise ValueError(
                f'`model.loss_warmup_epochs` names {name!r}, which is not in '
                f'`model.distill_losses` ({list(losses)}). Use one of those '
                'names.')
        if not isinstance(epochs, int) or isinstance(epochs, bool) \
                or epochs < 0:
            raise ValueError(f'`model.loss_warmup_epochs[{name!r}]` must be '
                             f'an int >= 0, got {epochs!r}.')
    return warmup


def check_two_views(name: str, num_views: int) -> None:
    """A two-view loss (MLKD) needs the weak and strong view of each image.

    Args:
        name (str): The loss's name in ``model.distill_losses``.
        num_views (int): How many views the batch has.
    """
    if num_views != 2:
        raise ValueError(
            f'model.distill_losses.{name} takes two views of each image '
            f'(weak, strong), but the batch has {num_views}. Use a '
            "`MultiView` training pipeline with `data_preprocessor=dict(type="
            "'MultiViewClsDataPreprocessor', ...)`, as "
            '`configs/_base_/datasets/cifar100_mlkd_bs64.py` does.')


class DistillLosses(nn.ModuleDict):
    """The distillation losses of a step, by name, with their warm-up.

    Builds each loss (from a config or a module), checks that it declares
    what its ``forward`` takes (``distill_inputs``), and computes every term
    of a step (:meth:`forward`), each times its warm-up factor, as mmrazor's
    ``compute_distill_losses`` does. The losses run inside
    ``teacher_logits_checked()``: the distiller checks the teacher's logits
    once per step, where they are produced, and each check in a loss would
    be one more host-device synchronisation.

    Each loss trains one head of the student: ``student_head`` in its
    config (``'cls'`` by default; ``'dist'``: the distillation token of a
    DeiT / LeViT student), kept in :attr:`student_heads`.

    Args:
        losses (dict): Name -> loss config or module. Names must contain
            ``'loss'`` so that MMEngine adds them to the total.
        warmup_epochs (dict, optional): Name -> epochs of a linear warm-up
            (the DKD warm-up): factor ``min((epoch + 1) / N, 1)`` with
            0-based epochs.
    """

    def __init__(self,
                 losses: Mapping[str, Union[dict, nn.Module]],
                 warmup_epochs: Optional[Mapping[str, int]] = None) -> None:
        if not isinstance(losses, Mapping):
            raise TypeError(
                '`model.distill_losses` must be a dict of name -> loss '
                "config, e.g. dict(loss_kd=dict(type='KDLoss')), got "
                f'{type(losses).__name__}.')
        if not losses:
            warnings.warn('`model.distill_losses` is empty: the student '
                          'trains on its own head loss only (no '
                          'distillation).')
        super().__init__()
        losses, self.student_heads = pop_head_targets(losses)
        for name, cfg in losses.items():
            module = _build_one(name, cfg)
            _check_inputs(name, module)
            self[name] = module
        self.warmup_epochs = check_warmup_epochs(warmup_epochs, self)

    def forward(self, student: List[Union[Tensor, Dict[str, Tensor]]],
                teacher: List[Tensor], energies: Dict[float, Tensor],
                data_samples: List) -> Dict[str, Tensor]:
        """Every distill loss of one step, times its warm-up factor.

        Args:
            student (list[Tensor | dict]): Student logits per view; or per
                view, the logits of each student head by name (each loss
                takes those of its ``student_head``).
            teacher (list[Tensor]): Teacher logits per view (checked).
            energies (dict): The teacher's energies per ``T_E``, passed to
                the energy losses.
            data_samples (list): The batch's data samples (labels).

        Returns:
            dict[str, Tensor]: Loss name -> weighted value.
        """
        losses, gt_labels = {}, None
        with teacher_logits_checked():
            for name, loss_module in self.items():
                head = self.student_heads[name]
                views = [
                    s[head] if isinstance(s, Mapping) else s for s in student
                ]
                if loss_module.distill_inputs == TWO_VIEW_INPUTS:
                    check_two_views(name, len(views))
                    args = [views[0], views[1], teacher[0], teacher[1]]
                else:
                    args = [views[0], teacher[0]]
                if 'gt_labels' in loss_module.distill_inputs:
                    if gt_labels is None:
                        gt_labels = torch.cat([
                            s.gt_label for s in data_samples
                        ]).to(views[0].device)
                    args.append(gt_labels)
                kwargs = {}
                if isinstance(loss_module, EnergyConsumer):
                    kwargs['energies'] = energies[
                        loss_module.energy_temperature]
                value = loss_module(*args, **kwargs)
                losses[name] = value * self.warmup_factor(name)
        return losses

    def warmup_factor(self, name: str) -> float:
        """The warm-up factor of loss ``name`` in the current epoch."""
        epochs = self.warmup_epochs.get(name, 0)
        if epochs <= 0:
            return 1.0
        epoch = MessageHub.get_current_instance().get_info('epoch', 0)
        return min((epoch + 1) / epochs, 1.0)

    def energy_consumers(self) -> Dict[str, EnergyConsumer]:
        """The losses that need calibrated energy thresholds, by name."""
        return {
            name: loss
            for name, loss in self.items() if isinstance(loss, EnergyConsumer)
        }

    def energy_loss(self) -> Optional[EnergyTemperatureLoss]:
        """The first loss with energy-chosen temperatures (None if none)."""
        for loss in self.values():
            if isinstance(loss, EnergyTemperatureLoss):
                return loss
        return None

    def energy_shares(self, teacher_logits: Tensor,
                      energies: Dict[float, Tensor]) -> Dict[str, Tensor]:
        """The logged share of the batch in each group of the energy loss.

        Args:
            teacher_logits (Tensor): The teacher's logits (weak view).
            energies (dict): Their energies per ``T_E``.

        Returns:
            dict[str, Tensor]: ``energy_low``, ``energy_mid``,
            ``energy_high``; empty without an energy loss.
        """
        energy_loss = self.energy_loss()
        if energy_loss is None:
            return {}
        groups = energy_loss.energy_groups(
            teacher_logits, energies[energy_loss.energy_temperature])
        shares = group_shares(groups)
        return dict(
            energy_low=shares[LOW],
            energy_mid=shares[MID],
            energy_high=shares[HIGH])
