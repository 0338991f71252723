# Copyright (c) mmenergykd contributors. All rights reserved.
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.logging import MessageHub, print_log
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmenergykd.models.energy import EnergyConsumer
from mmenergykd.models.utils import build_classifier
from mmenergykd.registry import MODELS
from mmenergykd.utils.validation import check_non_negative
from .checkpoint_guard import CheckpointGuardMixin
from .distill_losses import (TWO_VIEW_INPUTS, build_distill_losses,
                             check_two_views, check_warmup_epochs)
from .energy_step import EnergyStepMixin
from .frozen_teacher import FrozenTeacher
from .model_checks import (check_num_classes, check_preprocessor_classes,
                           fp16_autocast, preprocessor_cfg)
from .step_errors import add_note, batch_name, check_finite_loss
from .teacher_source import TeacherSourceMixin

__all__ = ['EnergyKDDistiller']


@MODELS.register_module()
class EnergyKDDistiller(CheckpointGuardMixin, TeacherSourceMixin,
                        EnergyStepMixin, BaseModel):
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
    shares -> HE-DA (select -> mix -> extra forwards -> KD term).

    ``mode='predict'`` and ``mode='tensor'`` run the student only, so
    MMPretrain's evaluators and val / test loops work unchanged.

    The teacher is a :class:`FrozenTeacher`, not a registered submodule:
    it is excluded from
    ``state_dict()`` (training checkpoints stay light; it is rebuilt from
    ``teacher_ckpt``), from ``parameters()`` (the optimizer never sees it)
    and from ``train()``; device / dtype moves still apply to it.

    Args:
        student (dict | str): Student model config (an MMPretrain
            ``ImageClassifier`` dict) or a config reference such as
            ``'mmpretrain::resnet/resnet18_8xb32_in1k.py'``.
        teacher (dict | str): Teacher model config, same forms.
        teacher_ckpt (str, optional): Teacher weights, a path or URL in the
            OpenMMLab layout (``{'state_dict': ...}``), loaded strictly with
            ``weights_only=True`` at build time. When ``None``, the
            ``checkpoint`` of the teacher's own
            ``init_cfg=dict(type='Pretrained', ...)`` is loaded the same
            way; without either, building fails unless
            ``allow_random_teacher`` is set.
        distill_losses (dict): Name -> loss config. Names must contain
            ``'loss'`` (e.g. ``loss_kd``) so MMEngine sums them. Each loss
            class declares ``distill_inputs``, what its ``forward`` takes:
            ``('student_logits', 'teacher_logits')`` or with
            ``'gt_labels'`` last.
        student_loss_weight (float): Weight of the student's own head loss.
            Defaults to 1.0.
        loss_warmup_epochs (dict, optional): Name -> number of epochs of a
            linear warm-up for that distill loss (the DKD warm-up): factor
            ``min((epoch + 1) / N, 1)`` with 0-based epochs.
        data_preprocessor (dict, optional): The data preprocessor, e.g.
            MMPretrain's ``ClsDataPreprocessor``; MMEngine's Runner passes the
            config's top-level ``data_preprocessor`` here.
        check_finite_teacher (bool): Raise a ValueError when the teacher's
            logits are non-finite. Defaults to True.
        check_finite_loss (bool): Raise a ValueError, before the optimizer
            step, when the total training loss is non-finite (so no NaN
            reaches the weights or a checkpoint). Not under fp16 autocast,
            where the AMP loss scaler skips such steps by design. One
            host-device synchronisation per step, like MMEngine's own
            logging of the losses. Defaults to True.
        channels_last (bool): Keep teacher, student and inputs in the
            ``channels_last`` memory format (faster convolutions with AMP on
            recent GPUs). Defaults to False.
        teacher_inference_mode (bool): Run the teacher under
            ``torch.inference_mode`` instead of ``no_grad``. Defaults to
            False.
        compile_teacher (bool | dict): ``torch.compile`` the teacher's
            forward (a dict is passed to ``torch.compile`` as keyword
            arguments). Defaults to False.
        allow_random_teacher (bool): Accept a teacher with no checkpoint
            (random weights; warns). For smoke tests and speed benchmarks
            only. Defaults to False.
        teacher_bank (str, optional): A teacher bank built by
            ``tools/build_teacher_bank.py``: the teacher's logits are looked
            up per (sample, recorded view) instead of computed (HE-DA's
            mixed images and MLKD's strong views stay live). Needs
            ``dict(type='TeacherBankHook')`` in ``custom_hooks``.
        teacher_ckpt_hint (str, optional): How to make the teacher
            checkpoint (e.g. the command that trains it), added to the error
            when ``teacher_ckpt`` does not exist.
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
                 check_finite_teacher: bool = True,
                 check_finite_loss: bool = True,
                 channels_last: bool = False,
                 teacher_inference_mode: bool = False,
                 compile_teacher: Union[bool, dict] = False,
                 allow_random_teacher: bool = False,
                 teacher_bank: Optional[str] = None,
                 teacher_ckpt_hint: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            data_preprocessor=preprocessor_cfg(student, data_preprocessor),
            init_cfg=init_cfg)
        check_non_negative('model.student_loss_weight', student_loss_weight)
        self.student = build_classifier(student, 'student')
        teacher_model = build_classifier(teacher, 'teacher')
        check_num_classes(self.student, teacher_model)
        check_preprocessor_classes(self.data_preprocessor, self.student)
        # Kept outside the module tree: see the class docstring.
        try:
            self.__dict__['frozen_teacher'] = FrozenTeacher.from_model(
                teacher_model,
                teacher_ckpt,
                allow_random=allow_random_teacher,
                channels_last=channels_last,
                inference_mode=teacher_inference_mode,
                compile=compile_teacher,
                check_finite=check_finite_teacher)
        except FileNotFoundError as err:
            if teacher_ckpt_hint:
                raise FileNotFoundError(f'{err} {teacher_ckpt_hint}') from err
            raise
        self.teacher_ckpt = self.frozen_teacher.checkpoint
        # Teacher / student fingerprints, stored in checkpoints and compared
        # on load (see CheckpointGuardMixin).
        self._record_identity()
        self._log_teacher()
        self.student_loss_weight = float(student_loss_weight)
        self.check_finite_loss = check_finite_loss
        if channels_last:
            self.student.to(memory_format=torch.channels_last)
        self.set_distill_losses(distill_losses or {})
        self.loss_warmup_epochs = check_warmup_epochs(loss_warmup_epochs,
                                                      self.distill_losses)
        self.high_energy_augment: Optional[nn.Module] = None
        # The bank is opened and attached by TeacherBankHook, which checks it
        # against the whole config (dataset, pipeline, teacher) first.
        self.teacher_bank = teacher_bank
        self.__dict__['bank'] = None

    def _log_teacher(self) -> None:
        teacher = self.identity['teacher']
        print_log(
            f"Teacher {teacher['type']} loaded from {teacher['ckpt']!r} "
            f"(weights fingerprint {teacher['weights']}).",
            logger='current')

    def set_distill_losses(self,
                           distill_losses: Dict[str,
                                                Union[dict,
                                                      nn.Module]]) -> None:
        """Build (from configs) and install the distillation losses.

        Args:
            distill_losses (dict): Name -> loss config or module. Names must
                contain ``'loss'`` so that MMEngine adds them to the total.
        """
        losses = build_distill_losses(distill_losses)
        param = next(self.student.parameters(), None)
        if param is not None:
            losses.to(param.device)
        self.distill_losses = losses

    # ------------------------------------------------------------------
    # teacher and student
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
        self._check_student_pretrained()
        self.student.init_weights()

    def student_logits(self, inputs: Tensor) -> Tensor:
        """Student logits (with gradient)."""
        inputs = self.frozen_teacher.format(inputs)
        return self.student.head(self.student.extract_feat(inputs))

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
        if mode in ('predict', 'tensor'):
            return self.student(
                self.frozen_teacher.format(inputs), data_samples, mode=mode)
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
        self.check_checkpoint_compatibility()
        # Under fp16 AMP a non-finite loss is the loss scaler's to handle
        # (it skips the step and lowers the scale); see parse_losses.
        views = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        self._fp16_step = fp16_autocast(views[0].device.type)
        teacher = [
            self._teacher_step(v, data_samples, banked=i == 0)
            for i, v in enumerate(views)
        ]
        student = [self._student_step(v, data_samples) for v in views]
        losses = self._head_losses(student, data_samples)
        energies = self.step_energies(teacher[0])
        losses.update(
            self.distill_loss_terms(student, teacher, energies, data_samples))
        losses.update(self.energy_shares(teacher[0], energies))
        if self.high_energy_augment is not None:
            losses.update(self._heda_step(views[0], energies))
        return losses

    def _student_step(self, inputs: Tensor, data_samples: List) -> Tensor:
        try:
            return self.student_logits(inputs)
        except RuntimeError as err:
            add_note(
                err, f'{batch_name(data_samples)}: `model.student` failed '
                f'on inputs of shape {tuple(inputs.shape)}. If the error is '
                'about shapes or channels, check that `model.student` fits '
                'the data and itself (backbone `in_channels`, neck, '
                '`head.in_channels`) and the pipeline / `data_preprocessor`.'
                ' No optimizer step was taken.')
            raise

    def _head_losses(self, student_logits: List[Tensor],
                     data_samples: List) -> Dict[str, Tensor]:
        """The student's own head loss, weighted (``loss_cls``), summed over
        the views."""
        losses: Dict[str, Tensor] = {}
        for logits in student_logits:
            head_losses = self.student.head._get_loss(logits, data_samples)
            for key, value in head_losses.items():
                name = 'loss_cls' if key == 'loss' else f'cls_{key}'
                value = value * self.student_loss_weight
                losses[name] = losses[name] + value if name in losses \
                    else value
        return losses

    def _warmup_factor(self, name: str) -> float:
        epochs = self.loss_warmup_epochs.get(name, 0)
        if epochs <= 0:
            return 1.0
        epoch = MessageHub.get_current_instance().get_info('epoch', 0)
        return min((epoch + 1) / epochs, 1.0)

    def distill_loss_terms(self, student: List[Tensor], teacher: List[Tensor],
                           energies: Dict[float, Tensor],
                           data_samples: List) -> Dict[str, Tensor]:
        """Every distill loss of one step, with its warm-up factor.

        Args:
            student (list[Tensor]): Student logits per view.
            teacher (list[Tensor]): Teacher logits per view.
            energies (dict): The teacher's energies per ``T_E``
                (:meth:`step_energies`).
            data_samples (list): The batch's data samples (labels).

        Returns:
            dict[str, Tensor]: Loss name -> weighted value.
        """
        losses, gt_labels = {}, None
        for name, loss_module in self.distill_losses.items():
            if loss_module.distill_inputs == TWO_VIEW_INPUTS:
                check_two_views(name, len(student))
                args = [student[0], student[1], teacher[0], teacher[1]]
            else:
                args = [student[0], teacher[0]]
            if 'gt_labels' in loss_module.distill_inputs:
                if gt_labels is None:
                    gt_labels = torch.cat([s.gt_label for s in data_samples
                                           ]).to(student[0].device)
                args.append(gt_labels)
            kwargs = {}
            if isinstance(loss_module, EnergyConsumer):
                kwargs['energies'] = energies[loss_module.energy_temperature]
            value = loss_module(*args, **kwargs)
            losses[name] = value * self._warmup_factor(name)
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
               f'teacher_ckpt={self.teacher_ckpt!r}, ' \
               f'teacher_bank={self.teacher_bank!r}'
