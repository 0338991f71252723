# Copyright (c) mmenergykd contributors. All rights reserved.
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmenergykd.models.augments import HighEnergyAugment
from mmenergykd.models.energy import (EnergyConsumer, EnergyTemperatureLoss,
                                      step_energies)
from mmenergykd.models.utils import build_classifier, student_heads_for
from mmenergykd.registry import MODELS
from mmenergykd.utils.validation import check_non_negative
from .checkpoint_identity import CheckpointIdentity
from .distill_losses import DistillLosses
from .energy_annotation import student_forward
from .frozen_teacher import FrozenTeacher, check_teacher_settings
from .model_checks import (check_preprocessor_classes,
                           check_student_pretrained, fp16_autocast,
                           preprocessor_cfg)
from .step_errors import check_finite_loss, student_errors, teacher_errors
from .teacher_source import TeacherSource

__all__ = ['EnergyKDDistiller']


@MODELS.register_module()
class EnergyKDDistiller(BaseModel):
    """Distil a frozen teacher into a student with logit losses.

    Works with any MMPretrain classifier pair (``extract_feat`` + a
    ``ClsHead``-style head). Each training step runs the teacher once (eval
    mode, no gradient, never its own loss), the student once, and adds:

    - ``loss_cls``: the student's own head loss (CE, or soft targets under
      the data preprocessor's batch Mixup / CutMix) times
      ``student_loss_weight``;
    - one entry per ``distill_losses`` item (``KDLoss``, ``DKDLoss``,
      ``EnergyKDLoss``, ``EnergyDKDLoss``), times its warm-up factor;
    - ``loss_heda`` when HE-DA is enabled (see ``HighEnergyAugmentHook``);
    - logged non-loss values: the share of the batch in each energy group
      (``energy_low``, ``energy_mid``, ``energy_high``) of the first energy
      loss.

    One training step reads top to bottom as the data path (:meth:`loss`):
    teacher -> student -> head loss -> distill losses (the teacher's
    energies computed once and passed to every energy consumer) -> energy
    shares -> HE-DA (select -> mix -> extra forwards -> KD term). Its parts
    are composed, each in its own file: ``teacher_source``
    (:class:`TeacherSource`: the :class:`FrozenTeacher` or an attached
    teacher bank), ``distill_losses`` (:class:`DistillLosses`: the loss
    table, its warm-up and every term), ``high_energy_augment``
    (:class:`HighEnergyAugment`, attached by ``HighEnergyAugmentHook``) and
    ``checkpoint_identity`` (:class:`CheckpointIdentity`: what checkpoints
    record about teacher and student, and the checks on load).

    ``mode='predict'`` and ``mode='tensor'`` run the student only, so
    MMPretrain's evaluators and val / test loops work unchanged.

    The teacher is a :class:`FrozenTeacher` held by the teacher source, not
    a registered submodule: it is excluded from ``state_dict()`` (training
    checkpoints stay light; it is rebuilt from ``teacher_ckpt``), from
    ``parameters()`` (the optimizer never sees it) and from ``train()``;
    device / dtype moves still apply to it.

    Args:
        student (dict | str): Student model config (an MMPretrain
            ``ImageClassifier`` dict), a config reference such as
            ``'mmpretrain::resnet/resnet18_8xb32_in1k.py'`` or a model name
            of MMPretrain's model index; a DeiT / LeViT student: see
            ``StudentHeads``.
        teacher (dict | str): Teacher model config, same forms. It sees the
            student's images as its own preprocessing would give them
            (``TeacherInputAdapter``).
        teacher_ckpt (str, optional): Teacher weights, a path or URL in the
            OpenMMLab layout (``{'state_dict': ...}``), loaded strictly with
            ``weights_only=True`` at build time (it overrides a model
            name's published weights, loaded when ``None``). When ``None``,
            the ``checkpoint`` of the teacher's own
            ``init_cfg=dict(type='Pretrained', ...)`` is loaded the same
            way; without either, building fails unless
            ``teacher_settings`` has ``allow_random=True``.
        distill_losses (dict): Name -> loss config. Names must contain
            ``'loss'`` (e.g. ``loss_kd``) so MMEngine sums them. Each loss
            class declares ``distill_inputs``, what its ``forward`` takes:
            ``('student_logits', 'teacher_logits')`` or with
            ``'gt_labels'`` last. ``student_head='dist'`` aims it at the
            distillation head.
        student_loss_weight (float): Weight of the student's own head loss.
            Defaults to 1.0.
        loss_warmup_epochs (dict, optional): Name -> number of epochs of a
            linear warm-up for that distill loss (the DKD warm-up): factor
            ``min((epoch + 1) / N, 1)`` with 0-based epochs.
        data_preprocessor (dict, optional): The data preprocessor, e.g.
            MMPretrain's ``ClsDataPreprocessor``; MMEngine's Runner passes the
            config's top-level ``data_preprocessor`` here.
        check_finite_loss (bool): Raise a ValueError, before the optimizer
            step, when the total training loss is non-finite (so no NaN
            reaches the weights or a checkpoint). Not under fp16 autocast,
            where the AMP loss scaler skips such steps by design. One
            host-device synchronisation per step, like MMEngine's own
            logging of the losses. Defaults to True.
        channels_last (bool): Keep teacher, student and inputs in the
            ``channels_last`` memory format (faster convolutions with AMP on
            recent GPUs). Defaults to False.
        teacher_settings (dict, optional): The :class:`FrozenTeacher`'s
            options: ``inference_mode`` (run the teacher under
            ``torch.inference_mode`` instead of ``no_grad``; False),
            ``compile`` (``torch.compile`` its forward, a dict giving the
            keyword arguments; False), ``check_finite`` (raise a ValueError
            on non-finite teacher logits, once a step; True) and
            ``allow_random`` (accept a teacher with no checkpoint, random
            weights, with a warning; for smoke tests and speed benchmarks
            only; False).
        teacher_bank (str, optional): A teacher bank built by
            ``tools/build_teacher_bank.py``: the teacher's logits are looked
            up per (sample, recorded view) instead of computed (HE-DA's
            mixed images and MLKD's strong views stay live). Needs
            ``dict(type='TeacherBankHook')`` in ``custom_hooks``.
        teacher_input_size (int | tuple, optional): The teacher's input
            size, an int or ``(H, W)``; overrides its test pipeline's.
        init_cfg (dict, optional): Initialisation config.

    Example:
        >>> model = dict(
        ...     type='EnergyKDDistiller',
        ...     student='mmpretrain::resnet/resnet18_8xb32_in1k.py',
        ...     teacher='mmpretrain::resnet/resnet34_8xb32_in1k.py',
        ...     teacher_ckpt='resnet34.pth',
        ...     distill_losses=dict(loss_energykd=dict(
        ...         type='EnergyKDLoss', low_energy_temperature=1.5,
        ...         mid_temperature=1.0, high_energy_temperature=0.5)))
    """

    def __init__(self,
                 student: Union[dict, str],
                 teacher: Union[dict, str],
                 teacher_ckpt: Optional[str] = None,
                 distill_losses: Optional[Dict[str, dict]] = None,
                 student_loss_weight: float = 1.0,
                 loss_warmup_epochs: Optional[Dict[str, int]] = None,
                 data_preprocessor: Optional[dict] = None,
                 check_finite_loss: bool = True,
                 channels_last: bool = False,
                 teacher_settings: Optional[dict] = None,
                 teacher_bank: Optional[str] = None,
                 teacher_input_size: Union[int, Sequence[int], None] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            data_preprocessor=preprocessor_cfg(student, data_preprocessor),
            init_cfg=init_cfg)
        check_non_negative('model.student_loss_weight', student_loss_weight)
        self.student = build_classifier(student, 'student')
        self.student_heads = student_heads_for(self.student.head)
        check_preprocessor_classes(self.data_preprocessor, self.student)
        # A plain object, so the teacher stays out of the module tree: see
        # the class docstring. The bank is opened and attached by
        # TeacherBankHook, which checks it against the whole config first.
        self.teacher_source = TeacherSource.build(
            teacher,
            teacher_ckpt,
            self.data_preprocessor,
            check_teacher_settings(teacher_settings),
            channels_last=channels_last,
            bank_path=teacher_bank,
            input_size=teacher_input_size,
            student=self.student)
        # Teacher / student fingerprints: in checkpoints, compared on load.
        self.checkpoint_identity = CheckpointIdentity(
            self.teacher, self.frozen_teacher.checkpoint, self.student)
        self._log_teacher()
        self.student_loss_weight = float(student_loss_weight)
        self.check_finite_loss = check_finite_loss
        if channels_last:
            self.student.to(memory_format=torch.channels_last)
        self.distill_losses = DistillLosses(distill_losses or {},
                                            loss_warmup_epochs)
        self.student_heads.check_targets(self.distill_losses.student_heads)
        self._move_to_student(self.distill_losses)
        self.high_energy_augment: Optional[HighEnergyAugment] = None
        self.annotate_energies = False  # see energy_annotation.py

    def _log_teacher(self) -> None:
        teacher = self.checkpoint_identity.record['teacher']
        print_log(
            f"Teacher {teacher['type']} loaded from {teacher['ckpt']!r} "
            f"(weights fingerprint {teacher['weights']}).\n" +
            self.teacher_source.input_adapter.describe(),
            logger='current')

    def _move_to_student(self, module: nn.Module) -> None:
        param = next(self.student.parameters(), None)
        if param is not None:
            module.to(param.device)

    def set_distill_losses(self,
                           distill_losses: Dict[str,
                                                Union[dict,
                                                      nn.Module]]) -> None:
        """Build (from configs) and install the distillation losses.

        Warm-ups of ``loss_warmup_epochs`` stay with the names they were
        set for.

        Args:
            distill_losses (dict): Name -> loss config or module. Names must
                contain ``'loss'`` so that MMEngine adds them to the total.
        """
        warmup = self.distill_losses.warmup_epochs
        losses = DistillLosses(distill_losses, {
            k: v
            for k, v in warmup.items() if k in distill_losses
        })
        self.student_heads.check_targets(losses.student_heads)
        self._move_to_student(losses)
        self.distill_losses = losses

    # ------------------------------------------------------------------
    # teacher and student
    @property
    def frozen_teacher(self) -> FrozenTeacher:
        """The frozen teacher (not part of ``state_dict``)."""
        return self.teacher_source.frozen_teacher

    @property
    def teacher(self) -> nn.Module:
        """The frozen teacher classifier (not part of ``state_dict``)."""
        return self.frozen_teacher.model

    @property
    def teacher_bank(self) -> Optional[str]:
        """``model.teacher_bank``: the configured teacher bank, or None."""
        return self.teacher_source.bank_path

    @teacher_bank.setter
    def teacher_bank(self, path: Optional[str]) -> None:
        self.teacher_source.bank_path = path

    def attach_teacher_bank(self, bank) -> None:
        """Look the teacher's logits up in ``bank`` (a ``TeacherBank``
        already checked against the config) instead of running it."""
        self.teacher_source.attach_bank(bank)

    def teacher_logits(self, inputs: Tensor) -> Tensor:
        """The live teacher's logits (eval mode, no gradient, no loss),
        checked and detached, on its own input (see ``TeacherSource``).

        Args:
            inputs (Tensor): Preprocessed images (B, C, H, W), as the data
                preprocessor gives them.

        Returns:
            Tensor: Logits of shape (B, num_classes).
        """
        return self.teacher_source.logits(inputs, banked=False)

    def student_head_logits(self, inputs: Tensor) -> Dict[str, Tensor]:
        """The logits of each student head (with gradient): ``'cls'``, and
        ``'dist'`` for a student with a distillation token or head."""
        inputs = self.frozen_teacher.format(inputs)
        return self.student_heads(self.student.extract_feat(inputs))

    def student_logits(self, inputs: Tensor) -> Tensor:
        """Student logits (with gradient) of the head the teacher trains:
        the distillation head of a DeiT / LeViT student, else its head."""
        logits = self.student_head_logits(inputs)
        return logits['dist'] if 'dist' in logits else logits['cls']

    def energy_consumers(self) -> Dict[str, EnergyConsumer]:
        """Modules that need calibrated energy thresholds, by name."""
        consumers = self.distill_losses.energy_consumers()
        if self.high_energy_augment is not None:
            consumers['high_energy_augment'] = self.high_energy_augment
        return consumers

    def energy_loss(self) -> Optional[EnergyTemperatureLoss]:
        """The first distill loss with energy-chosen temperatures."""
        return self.distill_losses.energy_loss()

    def _apply(self, fn, *args, **kwargs):
        """Device / dtype moves (``to``, ``cuda``, ...) reach the teacher."""
        super()._apply(fn, *args, **kwargs)
        self.frozen_teacher.apply_(fn)
        return self

    def train(self, mode: bool = True) -> 'EnergyKDDistiller':
        """Set the student's mode; the teacher always stays in eval mode."""
        super().train(mode)
        self.teacher.eval()
        return self

    def init_weights(self) -> None:
        """Initialise the student only; the teacher keeps its checkpoint."""
        check_student_pretrained(self.student)
        self.student.init_weights()

    # ------------------------------------------------------------------
    # checkpoints: the identity record is the extra state
    def get_extra_state(self) -> Tensor:
        return self.checkpoint_identity.encode()

    def set_extra_state(self, state) -> None:
        self.checkpoint_identity.compare(state)

    def _load_from_state_dict(self, state_dict, prefix, *args,
                              **kwargs) -> None:
        if prefix == '':
            self.checkpoint_identity.check_state_dict(state_dict, self.student)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def check_checkpoint_compatibility(self) -> None:
        """Raise if the loaded checkpoint was trained with another teacher
        (see :meth:`CheckpointIdentity.check_compatibility`)."""
        self.checkpoint_identity.check_compatibility()

    # ------------------------------------------------------------------
    # forward
    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List] = None,
                mode: str = 'tensor'
                ) -> Union[Dict[str, Tensor], list, Tensor]:
        """``'loss'``: distillation losses; otherwise the student only.

        Args:
            inputs (Tensor): Preprocessed images.
            data_samples (list, optional): MMPretrain ``DataSample`` s.
            mode (str): ``'loss'``, ``'predict'`` or ``'tensor'``.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode in ('predict', 'tensor'):  # + energy groups, when asked
            return student_forward(self, inputs, data_samples, mode)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def loss(self, inputs: Union[Tensor, Sequence[Tensor]],
             data_samples: List) -> Dict[str, Tensor]:
        """Student loss, distill losses, HE-DA term and energy group shares.

        Args:
            inputs (Tensor | list[Tensor]): Preprocessed images; or the two
                views ``[weak, strong]`` of each image from
                ``MultiViewClsDataPreprocessor`` (MLKD): teacher and student
                run on both, the head loss is summed over both, energies and
                HE-DA use the weak view, single-view losses see the weak
                view only.
            data_samples (list): ``DataSample`` s with ``gt_label`` (and
                ``gt_score`` under batch augments), one per image.

        Returns:
            dict[str, Tensor]: Losses (keys with ``loss``) and logged values.
        """
        # A checkpoint trained with another teacher stops here, before the
        # first step (the attribute test costs nothing per step).
        self.checkpoint_identity.check_compatibility()
        # Under fp16 AMP a non-finite loss is the loss scaler's to handle
        # (it skips the step and lowers the scale); see parse_losses.
        views = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        self._fp16_step = fp16_autocast(views[0].device.type)
        # Only the first (weak) view can be in a teacher bank.
        with teacher_errors(data_samples):
            teacher = [
                self.teacher_source.logits(view, data_samples, banked=i == 0)
                for i, view in enumerate(views)
            ]
        with student_errors(data_samples, views[0].shape):
            student = [self.student_head_logits(view) for view in views]
        losses = self.student_heads.head_losses(student, data_samples,
                                                self.student_loss_weight)
        energies = step_energies(self.energy_consumers().values(), teacher[0])
        losses.update(
            self.distill_losses(student, teacher, energies, data_samples))
        losses.update(self.distill_losses.energy_shares(teacher[0], energies))
        if self.high_energy_augment is not None:
            losses.update(
                self.high_energy_augment(views[0], energies,
                                         self.student_logits,
                                         self.teacher_logits,
                                         self.energy_loss()))
        return losses

    def parse_losses(self, losses: Dict[str, Tensor]):
        """MMEngine's sum of the losses, refused when non-finite.

        Called by ``train_step`` (and by MMEngine's DDP wrapper) between the
        forward pass and the optimizer step, so a non-finite loss stops the
        run before it reaches the weights or a checkpoint.
        """
        loss, log_vars = super().parse_losses(losses)
        if self.check_finite_loss and self.training and \
                not getattr(self, '_fp16_step', False):
            check_finite_loss(loss, log_vars)
        return loss, log_vars

    # ------------------------------------------------------------------
    def extra_repr(self) -> str:
        return f'teacher={type(self.teacher).__name__}, ' \
               f'teacher_ckpt={self.frozen_teacher.checkpoint!r}, ' \
               f'teacher_bank={self.teacher_bank!r}'
