# Copyright (c) mmenergykd contributors. All rights reserved.
"""Building and checking a distiller's table of distillation losses."""
import warnings
from typing import Dict, Mapping, Optional, Union

from torch import nn

from mmenergykd.registry import MODELS
from ..utils.teacher_logits_check import TeacherLogitsCheck

__all__ = [
    'DISTILL_INPUTS', 'TWO_VIEW_INPUTS', 'build_distill_losses',
    'check_two_views', 'check_warmup_epochs'
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


def build_distill_losses(distill_losses: Mapping[str, Union[dict, nn.Module]]
                         ) -> nn.ModuleDict:
    """Build (from configs) and check the distillation losses.

    The losses' own finite-check of the teacher logits is turned off: the
    distiller checks them once per step, and each extra check would be one
    more host-device synchronisation.

    Args:
        distill_losses (dict): Name -> loss config or module. Names must
            contain ``'loss'`` so that MMEngine adds them to the total.

    Returns:
        nn.ModuleDict: The losses, by name.
    """
    if not isinstance(distill_losses, Mapping):
        raise TypeError(
            '`model.distill_losses` must be a dict of name -> loss config, '
            "e.g. dict(loss_kd=dict(type='KDLoss')), got "
            f'{type(distill_losses).__name__}.')
    if not distill_losses:
        warnings.warn('`model.distill_losses` is empty: the student trains '
                      'on its own head loss only (no distillation).')
    losses = nn.ModuleDict()
    for name, cfg in distill_losses.items():
        module = _build_one(name, cfg)
        _check_inputs(name, module)
        if isinstance(module, TeacherLogitsCheck):
            module.check_finite = False
        losses[name] = module
    return losses


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
