# Copyright (c) mmenergykd contributors. All rights reserved.
"""The operations the speed benchmark times."""
from typing import Callable, Dict, List

import torch
from torch import Tensor, nn


def student_step(model: nn.Module, data: dict, optim_wrapper) -> float:
    """The student's own training step, as the distiller's minus teacher and
    distill losses (and as MMEngine's ``train_step`` + log read-back).

    ``model`` is the distiller or :class:`StudentAlone`.
    """
    with optim_wrapper.optim_context(model):
        data = model.data_preprocessor(data, True)
        logits = model.student_logits(data['inputs'])
        loss = model.student.head._get_loss(
            logits, data['data_samples'])['loss'] * model.student_loss_weight
    optim_wrapper.update_params(loss)
    return loss.item()


def teacher_forward(teacher, inputs: Tensor, amp: Callable) -> Tensor:
    """The teacher's forward alone (a ``FrozenTeacher``; no preprocessing,
    and no finite check with :func:`~.builders.unchecked`)."""
    with amp():
        return teacher.logits(inputs)


def student_forward_backward(model: nn.Module, inputs: Tensor,
                             amp: Callable) -> None:
    """Forward + backward of the student on ``inputs`` (HE-DA's extra
    student work), accumulating into the existing gradients."""
    with amp():
        logits = model.student_logits(inputs)
    logits.float().logsumexp(dim=1).mean().backward()


def distill_step(model: nn.Module, data: dict,
                 optim_wrapper) -> Dict[str, float]:
    """``model.train_step`` plus the read-back of its log values, as
    MMEngine's RuntimeInfoHook does every iteration."""
    log_vars = model.train_step(data, optim_wrapper)
    return {k: float(v.item()) for k, v in log_vars.items()}


def loss_only(model: nn.Module, student_logits: Tensor, teacher_logits: Tensor,
              data_samples: List) -> None:
    """The distiller's energy, distill-loss and logged group-share part of a
    step alone, with backward (what Energy KD adds on top of KD in a step).
    """
    from mmenergykd.models.energy import step_energies
    student_logits.grad = None
    energies = step_energies(model.energy_consumers().values(), teacher_logits)
    # one view: the distiller takes the logits of each view as a list
    losses = model.distill_losses([student_logits], [teacher_logits], energies,
                                  data_samples)
    model.distill_losses.energy_shares(teacher_logits, energies)
    sum(losses.values()).backward()


def plain_teacher_pass(teacher, preprocessor: nn.Module, loader,
                       amp: Callable) -> None:
    """Plain inference of the teacher classifier over a loader (what the
    calibration pass is compared with)."""
    for batch in loader:
        pre = preprocessor(batch, False)
        with torch.no_grad(), amp():
            teacher.model(teacher.format(pre['inputs']), mode='tensor')
