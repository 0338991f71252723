# Copyright (c) mmenergykd contributors. All rights reserved.
import warnings
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

import torch
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmenergykd.models.losses.energy import (HIGH, LOW, MID, group_shares,
                                             is_number)
from mmenergykd.models.utils import (build_classifier, load_teacher_checkpoint,
                                     resolve_model_cfg)
from mmenergykd.registry import MODELS
from .checkpoint_guard import CheckpointGuardMixin

__all__ = ['EnergyKDDistiller']

# What a distill loss's ``forward`` takes (its ``distill_inputs``).
_DISTILL_INPUTS = (('student_logits', 'teacher_logits'),
                   ('student_logits', 'teacher_logits', 'gt_labels'))


def _batch_name(data_samples: Optional[List]) -> str:
    """'Training iteration i (epoch e), dataset indices [...]'."""
    hub = MessageHub.get_current_instance()
    name = (f"Training iteration {hub.get_info('iter', '?')} (0-based, "
            f"epoch {hub.get_info('epoch', '?')})")
    indices = [
        s.get('sample_idx') for s in (data_samples or [])
        if hasattr(s, 'get') and s.get('sample_idx') is not None
    ]
    if indices:
        more = ', ...' if len(indices) > 16 else ''
        name += f', dataset indices {indices[:16]}{more}'
    return name


def _add_note(err: BaseException, note: str) -> None:
    """Say where an error happened, keeping its type and traceback.

    Out-of-memory errors are left alone (their own message is the fix).
    """
    if isinstance(err, torch.cuda.OutOfMemoryError) or \
            not hasattr(err, 'add_note'):
        return
    err.add_note(note)


def _teacher_pretrained(teacher: nn.Module) -> Optional[str]:
    """The checkpoint of the teacher's ``init_cfg=dict(type='Pretrained')``.

    MMEngine would load it non-strictly (a checkpoint of another width only
    logs a warning); the distiller loads it strictly instead, as
    ``teacher_ckpt``.
    """
    init_cfg = getattr(teacher, 'init_cfg', None)
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    for cfg in cfgs:
        if isinstance(cfg, Mapping) and cfg.get('type') == 'Pretrained':
            if cfg.get('prefix'):
                raise ValueError(
                    "`model.teacher.init_cfg` is dict(type='Pretrained', "
                    f"prefix={cfg['prefix']!r}): a teacher must load whole "
                    'and strictly. Set `model.teacher_ckpt` to a checkpoint '
                    'of the full teacher instead.')
            return cfg.get('checkpoint')
    return None


def _fp16_autocast(device_type: str) -> bool:
    """Whether float16 autocast (with loss scaling) is on for the device."""
    try:
        return torch.is_autocast_enabled(device_type) and \
            torch.get_autocast_dtype(device_type) == torch.float16
    except (TypeError, AttributeError):  # torch < 2.4
        return device_type == 'cuda' and torch.is_autocast_enabled() and \
            torch.get_autocast_gpu_dtype() == torch.float16


@MODELS.register_module()
class EnergyKDDistiller(CheckpointGuardMixin, BaseModel):
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

    ``mode='predict'`` and ``mode='tensor'`` run the student only, so
    MMPretrain's evaluators and val / test loops work unchanged.

    The teacher is not a registered submodule: it is excluded from
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
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = resolve_model_cfg(student, 'student').get(
                'data_preprocessor', None) or {}
        data_preprocessor = dict(data_preprocessor)
        data_preprocessor.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not is_number(student_loss_weight) \
                or not 0 <= student_loss_weight < float('inf'):
            raise ValueError(
                '`model.student_loss_weight` must be a finite number >= 0, '
                f'got {student_loss_weight!r}. Set it in the config (the '
                'default is 1.0).')
        self.student = build_classifier(student, 'student')
        teacher_model = build_classifier(teacher, 'teacher')
        self._check_num_classes(self.student, teacher_model)
        self._check_preprocessor_classes()
        if teacher_ckpt is None:
            teacher_ckpt = _teacher_pretrained(teacher_model)
        if teacher_ckpt is not None:
            load_teacher_checkpoint(teacher_model, teacher_ckpt)
        elif allow_random_teacher:
            warnings.warn('`teacher_ckpt` is None: the teacher keeps its '
                          'random initialisation (allow_random_teacher=True). '
                          'Set `model.teacher_ckpt` to distil from a trained '
                          'teacher.')
            teacher_model.init_weights()
        else:
            raise ValueError(
                '`model.teacher_ckpt` is not set, so the teacher would keep '
                'random weights and the student would learn from noise. Set '
                '`model.teacher_ckpt` to the trained teacher (a path or URL '
                "in the OpenMMLab layout, e.g. --cfg-options "
                'model.teacher_ckpt=/path/to/teacher.pth). Only for smoke '
                'tests and speed benchmarks: model.allow_random_teacher=True.')
        teacher_model.eval()
        teacher_model.requires_grad_(False)
        # Kept outside the module tree: see the class docstring.
        self.__dict__['_teacher'] = teacher_model
        self.teacher_ckpt = teacher_ckpt
        # Teacher / student fingerprints, stored in checkpoints and compared
        # on load (see CheckpointGuardMixin).
        self._record_identity()
        self.student_loss_weight = float(student_loss_weight)
        self.check_finite_teacher = check_finite_teacher
        self.check_finite_loss = check_finite_loss
        self.channels_last = channels_last
        self.teacher_inference_mode = teacher_inference_mode
        if channels_last:
            self.student.to(memory_format=torch.channels_last)
            teacher_model.to(memory_format=torch.channels_last)
        self.__dict__['_teacher_forward'] = self._plain_teacher_forward
        if compile_teacher:
            options = compile_teacher if isinstance(compile_teacher,
                                                    dict) else {}
            self.__dict__['_teacher_forward'] = torch.compile(
                self._plain_teacher_forward, **options)

        self.set_distill_losses(distill_losses or {})
        if loss_warmup_epochs is not None and not isinstance(
                loss_warmup_epochs, Mapping):
            raise TypeError(
                '`model.loss_warmup_epochs` must be a dict of distill loss '
                'name -> number of epochs, e.g. dict(loss_dkd=20), got '
                f'{loss_warmup_epochs!r}.')
        self.loss_warmup_epochs = dict(loss_warmup_epochs or {})
        for name, epochs in self.loss_warmup_epochs.items():
            if name not in self.distill_losses:
                raise ValueError(
                    f'`model.loss_warmup_epochs` names {name!r}, which is '
                    'not in `model.distill_losses` '
                    f'({list(self.distill_losses)}). Use one of those names.')
            if not isinstance(epochs, int) or isinstance(epochs, bool) \
                    or epochs < 0:
                raise ValueError(f'`model.loss_warmup_epochs[{name!r}]` must '
                                 f'be an int >= 0, got {epochs!r}.')
        self.high_energy_augment: Optional[nn.Module] = None

    def set_distill_losses(self,
                           distill_losses: Dict[str,
                                                Union[dict,
                                                      nn.Module]]) -> None:
        """Build (from configs) and install the distillation losses.

        The losses' own finite-check of the teacher logits is turned off:
        ``teacher_logits`` checks them once per forward when
        ``check_finite_teacher`` is True, and each extra check would be one
        more host-device synchronisation per step.

        Args:
            distill_losses (dict): Name -> loss config or module. Names must
                contain ``'loss'`` so that MMEngine adds them to the total.
        """
        if not isinstance(distill_losses, Mapping):
            raise TypeError(
                '`model.distill_losses` must be a dict of name -> loss '
                "config, e.g. dict(loss_kd=dict(type='KDLoss')), got "
                f'{type(distill_losses).__name__}.')
        if not distill_losses:
            warnings.warn('`model.distill_losses` is empty: the student '
                          'trains on its own head loss only (no '
                          'distillation).')
        losses = nn.ModuleDict()
        for name, cfg in distill_losses.items():
            if 'loss' not in name:
                raise ValueError(
                    f'distill loss name {name!r} in `model.distill_losses` '
                    'must contain "loss" so that MMEngine adds it to the '
                    f'total: rename it (e.g. "loss_{name}").')
            try:
                module = cfg if isinstance(cfg, nn.Module) \
                    else MODELS.build(cfg)
            except (ValueError, TypeError) as err:
                raise type(err)(f'model.distill_losses.{name}: {err}') \
                    from err
            except KeyError as err:  # unknown type / no type
                reason = err.args[0] if err.args else err
                raise KeyError(f'model.distill_losses.{name}: {reason} '
                               'Use one of KDLoss, DKDLoss, EnergyKDLoss, '
                               'EnergyDKDLoss (with `import mmenergykd` in '
                               '`custom_imports`).') from err
            inputs = getattr(module, 'distill_inputs', None)
            if isinstance(inputs, (list, tuple)) and \
                    tuple(inputs) in _DISTILL_INPUTS:
                module.distill_inputs = tuple(inputs)
            else:
                what = ('has no `distill_inputs` saying what it takes'
                        if inputs is None else
                        f'declares `distill_inputs={inputs!r}`')
                raise TypeError(
                    f'model.distill_losses.{name}: {type(module).__name__} '
                    f'is not a distillation loss (it {what}). Use KDLoss, '
                    'DKDLoss, '
                    'EnergyKDLoss or EnergyDKDLoss; a loss of your own needs '
                    "`distill_inputs = ('student_logits', 'teacher_logits')`"
                    " (or with 'gt_labels' last) and that forward signature. "
                    "The student's own label loss is `model.student.head.loss`"
                    ' weighted by `model.student_loss_weight`.')
            if hasattr(module, 'check_finite'):
                module.check_finite = False
            losses[name] = module
        param = next(self.student.parameters(), None)
        if param is not None:
            losses.to(param.device)
        self.distill_losses = losses

    # ------------------------------------------------------------------
    # teacher handling
    @property
    def teacher(self) -> nn.Module:
        """The frozen teacher (not part of ``state_dict``)."""
        return self.__dict__['_teacher']

    @staticmethod
    def _check_num_classes(student: nn.Module, teacher: nn.Module) -> None:
        s_cls = getattr(student.head, 'num_classes', None)
        t_cls = getattr(teacher.head, 'num_classes', None)
        if s_cls is not None and t_cls is not None and s_cls != t_cls:
            raise ValueError(
                f'Teacher and student class counts differ: teacher head '
                f'num_classes={t_cls}, student head num_classes={s_cls}. Set '
                'the same `num_classes` in `model.student.head` and '
                '`model.teacher.head` (and in `data_preprocessor`).')

    def _check_preprocessor_classes(self) -> None:
        """``data_preprocessor.num_classes`` must be the heads' class count.

        It sizes the one-hot labels of batch Mixup / CutMix; a different
        count would fail only inside the first training step. When unset
        and batch augments are used, it is taken from the student's head.
        """
        classes = getattr(self.student.head, 'num_classes', None)
        if classes is None or not hasattr(self.data_preprocessor,
                                          'num_classes'):
            return
        current = self.data_preprocessor.num_classes
        if current is None:
            if getattr(self.data_preprocessor, 'batch_augments', None):
                self.data_preprocessor.num_classes = classes
            return
        if current != classes:
            raise ValueError(
                f'`data_preprocessor.num_classes` is {current}, but the '
                f'student and teacher heads have num_classes={classes}. Set '
                f'`data_preprocessor.num_classes={classes}` (it sizes the '
                'one-hot labels of batch Mixup / CutMix), or change '
                '`num_classes` of both heads to the dataset\'s class count.')

    def _apply(self, fn: Callable, *args, **kwargs):
        """Device / dtype moves (``to``, ``cuda``, ...) reach the teacher."""
        super()._apply(fn, *args, **kwargs)
        self.teacher._apply(fn, *args, **kwargs)
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

    def _plain_teacher_forward(self, inputs: Tensor) -> Tensor:
        return self.teacher.head(self.teacher.extract_feat(inputs))

    def _format(self, inputs: Tensor) -> Tensor:
        if self.channels_last and inputs.dim() == 4:
            return inputs.contiguous(memory_format=torch.channels_last)
        return inputs

    def teacher_logits(self, inputs: Tensor) -> Tensor:
        """Teacher logits (eval mode, no gradient, no loss).

        Args:
            inputs (Tensor): Preprocessed images (B, C, H, W).

        Returns:
            Tensor: Logits of shape (B, num_classes), detached.
        """
        try:
            logits = self._run_teacher(self._format(inputs))
        except RuntimeError as err:
            _add_note(
                err, f'`model.teacher` failed on inputs of shape '
                f'{tuple(inputs.shape)}. If the error is about shapes or '
                'channels, check that `model.teacher` (backbone '
                '`in_channels`, input size) fits the data, the pipeline and '
                '`data_preprocessor`.')
            raise
        if self.check_finite_teacher and not torch.isfinite(logits).all():
            raise ValueError(
                'The teacher produced non-finite logits (NaN / Inf) for this '
                'batch. Check `teacher_ckpt` and the input normalisation '
                '(`data_preprocessor`); under fp16 AMP try bf16. No '
                'checkpoint was written for this step.')
        return logits.detach()

    def _run_teacher(self, inputs: Tensor) -> Tensor:
        """The teacher's forward without gradient (or in inference mode)."""
        if self.teacher_inference_mode:
            with torch.inference_mode():
                logits = self.__dict__['_teacher_forward'](inputs)
            # A normal tensor again, so autograd may save it for backward.
            logits = logits.clone()
        else:
            with torch.no_grad():
                logits = self.__dict__['_teacher_forward'](inputs)
        return logits

    def student_logits(self, inputs: Tensor) -> Tensor:
        """Student logits (with gradient)."""
        inputs = self._format(inputs)
        return self.student.head(self.student.extract_feat(inputs))

    # ------------------------------------------------------------------
    # energy consumers (what the calibration hook sets thresholds on)
    def energy_consumers(self) -> Dict[str, nn.Module]:
        """Modules that need calibrated energy thresholds, by name.

        Each has ``energy_temperature``, ``low_ratio``, ``high_ratio``,
        ``is_calibrated`` and ``set_thresholds(low, high)``.
        """
        consumers = {
            name: loss
            for name, loss in self.distill_losses.items()
            if hasattr(loss, 'set_thresholds')
        }
        if self.high_energy_augment is not None:
            consumers['high_energy_augment'] = self.high_energy_augment
        return consumers

    def _energy_loss(self) -> Optional[nn.Module]:
        for loss in self.distill_losses.values():
            if hasattr(loss, 'sample_temperatures'):
                return loss
        return None

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
            return self.student(self._format(inputs), data_samples, mode=mode)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def _warmup_factor(self, name: str) -> float:
        epochs = self.loss_warmup_epochs.get(name, 0)
        if epochs <= 0:
            return 1.0
        epoch = MessageHub.get_current_instance().get_info('epoch', 0)
        return min((epoch + 1) / epochs, 1.0)

    def loss(self, inputs: Tensor, data_samples: List) -> Dict[str, Tensor]:
        """Student loss, distill losses, HE-DA term and energy group shares.

        Args:
            inputs (Tensor): Preprocessed images.
            data_samples (list): ``DataSample`` s with ``gt_label`` (and
                ``gt_score`` under batch augments).

        Returns:
            dict[str, Tensor]: Losses (keys with ``loss``) and logged values.
        """
        # A checkpoint trained with another teacher stops here, before the
        # first step (the attribute test costs nothing per step).
        self.check_checkpoint_compatibility()
        # Under fp16 AMP a non-finite loss is the loss scaler's to handle
        # (it skips the step and lowers the scale); see parse_losses.
        self._fp16_step = _fp16_autocast(inputs.device.type)
        try:
            teacher_logits = self.teacher_logits(inputs)
        except ValueError as err:
            raise ValueError(f'{_batch_name(data_samples)}: {err}') from err
        except RuntimeError as err:
            _add_note(err, _batch_name(data_samples))
            raise
        try:
            student_logits = self.student_logits(inputs)
        except RuntimeError as err:
            _add_note(
                err, f'{_batch_name(data_samples)}: `model.student` failed '
                f'on inputs of shape {tuple(inputs.shape)}. If the error is '
                'about shapes or channels, check that `model.student` fits '
                'the data and itself (backbone `in_channels`, neck, '
                '`head.in_channels`) and the pipeline / `data_preprocessor`.'
                ' No optimizer step was taken.')
            raise
        losses: Dict[str, Any] = {}

        head_losses = self.student.head._get_loss(student_logits, data_samples)
        for key, value in head_losses.items():
            name = 'loss_cls' if key == 'loss' else f'cls_{key}'
            losses[name] = value * self.student_loss_weight

        gt_labels = None
        for name, loss_module in self.distill_losses.items():
            if 'gt_labels' in loss_module.distill_inputs:
                if gt_labels is None:
                    gt_labels = torch.cat([s.gt_label for s in data_samples
                                           ]).to(student_logits.device)
                value = loss_module(student_logits, teacher_logits, gt_labels)
            else:
                value = loss_module(student_logits, teacher_logits)
            losses[name] = value * self._warmup_factor(name)

        energy_loss = self._energy_loss()
        if energy_loss is not None:
            # The groups the loss used (cached there: computed once a step).
            shares = group_shares(energy_loss.energy_groups(teacher_logits))
            for key, group in (('energy_low', LOW), ('energy_mid', MID),
                               ('energy_high', HIGH)):
                losses[key] = shares[group]

        if self.high_energy_augment is not None:
            losses.update(
                self.high_energy_augment.extra_loss(self, inputs,
                                                    teacher_logits,
                                                    energy_loss))
        return losses

    def parse_losses(self, losses: Dict[str, Tensor]):
        """MMEngine's sum of the losses, refused when non-finite.

        Called by ``train_step`` (and by MMEngine's DDP wrapper) between the
        forward pass and the optimizer step, so a non-finite loss stops the
        run before it reaches the weights or a checkpoint.
        """
        loss, log_vars = super().parse_losses(losses)
        if self.check_finite_loss and self.training and \
                not getattr(self, '_fp16_step', False) and \
                not bool(torch.isfinite(loss)):
            parts = ', '.join(f'{k}={float(v):.4g}'
                              for k, v in log_vars.items() if 'loss' in k)
            raise ValueError(
                f'{_batch_name(None)}: the training loss is non-finite '
                f'({parts}). No optimizer step was taken and nothing was '
                'saved for this step. Check the loss settings (temperatures, '
                '`loss_weight`s, `model.student_loss_weight`), the learning '
                'rate, and under fp16 AMP try bf16.')
        return loss, log_vars

    # ------------------------------------------------------------------
    def extra_repr(self) -> str:
        return f'teacher={type(self.teacher).__name__}, ' \
               f'teacher_ckpt={self.teacher_ckpt!r}'
