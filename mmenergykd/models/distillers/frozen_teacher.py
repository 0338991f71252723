# Copyright (c) mmenergykd contributors. All rights reserved.
"""The frozen teacher: built, loaded strictly, frozen, run without grad."""
import warnings
from typing import Callable, Mapping, Optional, Union

import torch
from torch import Tensor, nn

from mmenergykd.models.utils import build_classifier, load_teacher_checkpoint
from .step_errors import add_note

__all__ = [
    'FrozenTeacher', 'TEACHER_SETTINGS', 'check_teacher_settings',
    'teacher_pretrained'
]

#: What ``model.teacher_settings`` may set: the options of
#: :meth:`FrozenTeacher.from_model` besides the model, checkpoint and
#: memory format.
TEACHER_SETTINGS = ('inference_mode', 'compile', 'check_finite',
                    'allow_random')


def teacher_pretrained(teacher: nn.Module) -> Optional[str]:
    """The checkpoint of the teacher's ``init_cfg=dict(type='Pretrained')``.

    MMEngine would load it non-strictly (a checkpoint of another width only
    logs a warning); the teacher loads it strictly instead, as
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


def _no_checkpoint(allow_random: bool, model: nn.Module) -> None:
    if not allow_random:
        raise ValueError(
            '`model.teacher_ckpt` is not set, so the teacher would keep '
            'random weights and the student would learn from noise. Set '
            '`model.teacher_ckpt` to the trained teacher (a path or URL in '
            'the OpenMMLab layout, e.g. --cfg-options '
            'model.teacher_ckpt=/path/to/teacher.pth). Only for smoke tests '
            'and speed benchmarks: '
            'model.teacher_settings=dict(allow_random=True).')
    warnings.warn('`teacher_ckpt` is None: the teacher keeps its random '
                  'initialisation (teacher_settings allow_random=True). Set '
                  '`model.teacher_ckpt` to distil from a trained teacher.')
    model.init_weights()


def check_teacher_settings(settings: Optional[Mapping]) -> dict:
    """``model.teacher_settings`` as a dict of :data:`TEACHER_SETTINGS`.

    Args:
        settings (dict, optional): The teacher's settings (None: defaults).

    Returns:
        dict: The settings, to pass to :meth:`FrozenTeacher.from_model`.
    """
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise TypeError('`model.teacher_settings` must be a dict, e.g. '
                        f'dict(inference_mode=True), got {settings!r}.')
    unknown = sorted(set(settings) - set(TEACHER_SETTINGS))
    if unknown:
        raise ValueError(
            f'`model.teacher_settings` has unknown keys {unknown}: it takes '
            f'{list(TEACHER_SETTINGS)} (see FrozenTeacher). `channels_last` '
            'is `model.channels_last` (it applies to the student too).')
    return dict(settings)


class FrozenTeacher:
    """A teacher classifier's whole lifecycle, from config to logits.

    Owns: building the classifier, the strict weights-only load of its
    checkpoint (``teacher_ckpt``, or the checkpoint of its own
    ``init_cfg=dict(type='Pretrained')``), freezing (eval mode, no
    gradient), the ``channels_last`` memory format, ``torch.compile``, the
    forward under ``no_grad`` / ``inference_mode`` (never the teacher's own
    loss) and the finite check of its logits. Used by
    ``EnergyKDDistiller`` and the speed benchmark alike.

    It is a plain object, not an ``nn.Module``, so a model holding it keeps
    the teacher out of its ``state_dict``, ``parameters()`` and ``train()``.

    Args:
        model (nn.Module): The teacher classifier (``extract_feat`` + head).
        checkpoint (str, optional): What its weights came from (logged,
            compared with training checkpoints).
        channels_last (bool): Run in the ``channels_last`` memory format.
        inference_mode (bool): Forward under ``torch.inference_mode``
            instead of ``no_grad``.
        compile (bool | dict): ``torch.compile`` the forward (a dict is
            passed to ``torch.compile`` as keyword arguments).
        check_finite (bool): Raise a ValueError on NaN / Inf logits (one
            host-device synchronisation per call).

    Example:
        >>> teacher = FrozenTeacher.build(
        ...     'mmpretrain::resnet/resnet34_8xb32_in1k.py', 'resnet34.pth')
        >>> logits = teacher.logits(images)
    """

    def __init__(self,
                 model: nn.Module,
                 checkpoint: Optional[str] = None,
                 channels_last: bool = False,
                 inference_mode: bool = False,
                 compile: Union[bool, dict] = False,
                 check_finite: bool = True) -> None:
        self.model = model
        self.checkpoint = checkpoint
        self.channels_last = bool(channels_last)
        self.inference_mode = bool(inference_mode)
        self.check_finite = bool(check_finite)
        model.eval()
        model.requires_grad_(False)
        if channels_last:
            model.to(memory_format=torch.channels_last)
        self._forward: Callable[[Tensor], Tensor] = self._plain_forward
        if compile:
            options = compile if isinstance(compile, dict) else {}
            self._forward = torch.compile(self._plain_forward, **options)

    @classmethod
    def build(cls,
              cfg: Union[dict, str],
              checkpoint: Optional[str] = None,
              allow_random: bool = False,
              **kwargs) -> 'FrozenTeacher':
        """Build the classifier from a config and load it strictly.

        Args:
            cfg (dict | str): The teacher's model config, or a reference
                such as ``'mmpretrain::resnet/resnet34_8xb32_in1k.py'``.
            checkpoint (str, optional): Teacher weights (path or URL, the
                OpenMMLab layout), loaded strictly with ``weights_only``.
                None: the checkpoint of the teacher's own ``Pretrained``
                ``init_cfg``.
            allow_random (bool): Accept no checkpoint at all (random
                weights, with a warning); for smoke tests and benchmarks.
            **kwargs: The other arguments of :class:`FrozenTeacher`.

        Returns:
            FrozenTeacher: The frozen teacher.
        """
        return cls.from_model(
            build_classifier(cfg, 'teacher'), checkpoint, allow_random,
            **kwargs)

    @classmethod
    def from_model(cls,
                   model: nn.Module,
                   checkpoint: Optional[str] = None,
                   allow_random: bool = False,
                   **kwargs) -> 'FrozenTeacher':
        """Load a built classifier strictly and freeze it (see :meth:`build`).

        Args:
            model (nn.Module): The teacher classifier.
            checkpoint (str, optional): Its weights; see :meth:`build`.
            allow_random (bool): Accept no checkpoint at all.
            **kwargs: The other arguments of :class:`FrozenTeacher`.

        Returns:
            FrozenTeacher: The frozen teacher.
        """
        if checkpoint is None:
            checkpoint = teacher_pretrained(model)
        if checkpoint is not None:
            load_teacher_checkpoint(model, checkpoint)
        else:
            _no_checkpoint(allow_random, model)
        return cls(model, checkpoint, **kwargs)

    @property
    def num_classes(self) -> Optional[int]:
        """The class count of the teacher's head (None if it has none)."""
        return getattr(getattr(self.model, 'head', None), 'num_classes', None)

    def format(self, inputs: Tensor) -> Tensor:
        """``inputs`` in the teacher's memory format."""
        if self.channels_last and inputs.dim() == 4:
            return inputs.contiguous(memory_format=torch.channels_last)
        return inputs

    def _plain_forward(self, inputs: Tensor) -> Tensor:
        return self.model.head(self.model.extract_feat(inputs))

    def logits(self, inputs: Tensor) -> Tensor:
        """Teacher logits (eval mode, no gradient, no loss), detached.

        Args:
            inputs (Tensor): Preprocessed images (B, C, H, W).

        Returns:
            Tensor: Logits of shape (B, num_classes).
        """
        try:
            if self.inference_mode:
                with torch.inference_mode():
                    logits = self._forward(self.format(inputs))
                # A normal tensor again, so autograd may save it for
                # backward.
                logits = logits.clone()
            else:
                with torch.no_grad():
                    logits = self._forward(self.format(inputs))
        except RuntimeError as err:
            add_note(
                err, f'`model.teacher` failed on inputs of shape '
                f'{tuple(inputs.shape)}. If the error is about shapes or '
                'channels, check that `model.teacher` (backbone '
                '`in_channels`, input size) fits the data, the pipeline and '
                '`data_preprocessor`.')
            raise
        if self.check_finite and not torch.isfinite(logits).all():
            raise ValueError(
                'The teacher produced non-finite logits (NaN / Inf) for this '
                'batch. Check `teacher_ckpt` and the input normalisation '
                '(`data_preprocessor`); under fp16 AMP try bf16. No '
                'checkpoint was written for this step.')
        return logits.detach()

    __call__ = logits

    def to(self, *args, **kwargs) -> 'FrozenTeacher':
        """Move the teacher (``nn.Module.to`` arguments)."""
        self.model.to(*args, **kwargs)
        return self

    def apply_(self, fn: Callable) -> None:
        """Apply an ``nn.Module._apply`` function (device / dtype moves)."""
        self.model._apply(fn)
