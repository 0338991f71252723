# Copyright (c) mmenergykd contributors. All rights reserved.
"""The teacher's own input, made from the student's batch.

The distiller's data preprocessor prepares each batch for the student
(its mean / std, its channel order, the size of its training crops). A
teacher trained with another preprocessing would see wrong pixels. The
:class:`TeacherInputAdapter` turns the student's batch into what the
teacher's own preprocessing gives on the same augmented images (the same
crop, flip, Mixup / CutMix): it undoes the student's normalisation, fixes
the channel order, resizes to the teacher's input size and normalises with
the teacher's mean / std. The normalisation and channel steps are one
per-channel affine map (``x * a + b``); equal preprocessing and size make it
the identity, and the batch is returned as it is (the same tensor).

**Resizing.** Once per batch, on the device, with
``torch.nn.functional.interpolate`` on the float batch, with the
interpolation of the teacher's own test pipeline (the last ``Resize`` /
``ResizeEdge`` / ``EfficientNetCenterCrop`` of it; MMPretrain's defaults
when it names none: bilinear for ``Resize`` / ``ResizeEdge``, bicubic for
``EfficientNetCenterCrop``, backend ``cv2``) and ``align_corners=False``
(the pixel-centre convention of OpenCV and PIL):

==========================  ===========================================
test pipeline               ``F.interpolate``
==========================  ===========================================
bilinear, ``cv2``           ``mode='bilinear', antialias=False``
bilinear, ``pillow``        ``mode='bilinear', antialias=True``
bicubic, ``cv2``            ``mode='bicubic', antialias=False``
bicubic, ``pillow``         ``mode='bicubic', antialias=True``
nearest, ``cv2``            ``mode='nearest'``
nearest, ``pillow``         ``mode='nearest-exact'``
area (either)               ``mode='area'``
lanczos / hamming / box     ``mode='bicubic'``, antialias as the backend
==========================  ===========================================

Why these: PIL filters with a kernel widened by the scale factor when it
shrinks an image (antialiasing) and uses the bicubic coefficient
``a = -0.5``; OpenCV's ``INTER_LINEAR`` / ``INTER_CUBIC`` sample without
widening and use ``a = -0.75``. PyTorch's ``antialias=True`` kernels are
PIL's (``a = -0.5``), its plain ones OpenCV's (``a = -0.75``). Measured on
224 px images resized to 384 and 160 px, the float result rounded to
uint8 is within one grey level of ``cv2.resize`` for the ``cv2`` rows, and
within one grey level of PIL for the ``pillow`` rows on natural (smooth)
images. How it differs from the pipeline's resize of uint8 images: here
the values stay float (no rounding to integers, no clipping to [0, 255],
so bicubic's overshoot at sharp edges is kept; PIL clips and rounds after
each of its two passes, which on pixel noise differs by up to about 20
grey levels); and it resizes the student's augmented crop, not the
original photo, so a teacher tested at 384 px on a 256 px short edge
crop sees the student's 224 px crop upsampled to 384 px (the same image
content as the student, at the teacher's resolution). Normalising before
or after the resize gives the same result (the interpolation weights sum
to one), so the adapter normalises the smaller of the two tensors.
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .model_source import ModelSource
from .preprocess_spec import (ModelPreprocess, input_size,
                              preprocess_from_config, preprocess_from_settings)

__all__ = [
    'TeacherInputAdapter', 'resolve_teacher_preprocess', 'resize_mode',
    'resize_like_pipeline'
]

_MODES = {
    ('bilinear', 'cv2'): ('bilinear', False),
    ('bilinear', 'pillow'): ('bilinear', True),
    ('bicubic', 'cv2'): ('bicubic', False),
    ('bicubic', 'pillow'): ('bicubic', True),
    ('nearest', 'cv2'): ('nearest', None),
    ('nearest', 'pillow'): ('nearest-exact', None),
}


def resize_mode(interpolation: str,
                backend: str) -> Tuple[str, Optional[bool]]:
    """The ``F.interpolate`` mode and antialias of a pipeline's resize.

    Args:
        interpolation (str): The pipeline's ``interpolation``.
        backend (str): The pipeline's ``backend`` (``'cv2'``, ``'pillow'``).

    Returns:
        tuple: ``(mode, antialias)``; antialias is None for the modes that
        take none (nearest, area).
    """
    backend = 'pillow' if backend == 'pillow' else 'cv2'
    if interpolation == 'area':
        return 'area', None
    if (interpolation, backend) in _MODES:
        return _MODES[(interpolation, backend)]
    # lanczos, hamming, box: no such kernel in PyTorch; bicubic is closest
    return 'bicubic', backend == 'pillow'


def resize_like_pipeline(inputs: Tensor, size: Tuple[int, int],
                         interpolation: str, backend: str) -> Tensor:
    """Resize a float (B, C, H, W) batch as the module docstring says.

    Args:
        inputs (Tensor): Float images (B, C, H, W).
        size (tuple[int, int]): The output ``(H, W)``.
        interpolation (str): The pipeline's ``interpolation``.
        backend (str): The pipeline's ``backend``.

    Returns:
        Tensor: The resized batch (same dtype).
    """
    mode, antialias = resize_mode(interpolation, backend)
    if antialias is None:
        return F.interpolate(inputs, size=size, mode=mode)
    return F.interpolate(
        inputs, size=size, mode=mode, align_corners=False, antialias=antialias)


def _per_channel(values: Optional[Tuple[float, ...]], channels: int,
                 default: float) -> Tuple[float, ...]:
    if values is None:
        return (default, ) * channels
    if len(values) == 1:
        return tuple(values) * channels
    if len(values) != channels:
        raise ValueError(
            f'A data preprocessor has {len(values)} mean / std values, but '
            f'the images have {channels} channels. Set `mean` / `std` of '
            'the student\'s and the teacher\'s `data_preprocessor` with one '
            'value per channel.')
    return tuple(values)


class TeacherInputAdapter:
    """The student's preprocessed batch -> the teacher's own input.

    See the module docstring for what it computes and how it resizes.

    Args:
        student (ModelPreprocess): The preprocessing the batch went
            through (the distiller's ``data_preprocessor``).
        teacher (ModelPreprocess): The teacher's own preprocessing and
            input size.

    Example:
        >>> adapter = TeacherInputAdapter(
        ...     ModelPreprocess(mean=(123.675, 116.28, 103.53),
        ...                     std=(58.395, 57.12, 57.375), to_rgb=True),
        ...     ModelPreprocess(mean=(127.5, ) * 3, std=(127.5, ) * 3,
        ...                     size=(384, 384), backend='pillow'))
        >>> adapter(torch.zeros(2, 3, 224, 224)).shape
        torch.Size([2, 3, 384, 384])
    """

    def __init__(self, student: ModelPreprocess,
                 teacher: ModelPreprocess) -> None:
        self.student = student
        self.teacher = teacher
        self.same_pixels = student.same_pixels(teacher)
        self._cache: Dict[tuple, Tuple[Tensor, Tensor]] = {}

    @property
    def is_identity(self) -> bool:
        """Same normalisation and channel order, and no size of its own
        (a batch of another size than ``teacher.size`` is still resized)."""
        return self.same_pixels and self.teacher.size is None

    def coefficients(self, channels: int, device: torch.device,
                     dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
        """``(a, b)`` of shape (1, C, 1, 1): teacher input = ``x * a + b``.

        Channel ``c`` of the teacher's input is channel ``p(c)`` of the
        student's (``p`` reverses the three channels when exactly one of
        the two converts BGR to RGB): ``a = s_s[p(c)] / s_t[c]`` and
        ``b = (m_s[p(c)] - m_t[c]) / s_t[c]``, from the raw pixel
        ``x * s_s + m_s`` (no normalisation: mean 0, std 1).
        """
        key = (channels, device, dtype)
        if key not in self._cache:
            s, t = self.student, self.teacher
            m_s = _per_channel(s.mean, channels, 0.0)
            s_s = _per_channel(s.std, channels, 1.0)
            m_t = _per_channel(t.mean, channels, 0.0)
            s_t = _per_channel(t.std, channels, 1.0)
            flip = channels == 3 and s.to_rgb != t.to_rgb
            order = [2, 1, 0] if flip else list(range(channels))
            scale = [s_s[order[c]] / s_t[c] for c in range(channels)]
            shift = [(m_s[order[c]] - m_t[c]) / s_t[c]
                     for c in range(channels)]
            self._cache[key] = tuple(
                torch.tensor(v, dtype=torch.float64).view(
                    1, channels, 1, 1).to(device=device, dtype=dtype)
                for v in (scale, shift))
        return self._cache[key]

    def _normalise(self, inputs: Tensor) -> Tensor:
        if self.same_pixels:
            return inputs
        scale, shift = self.coefficients(inputs.shape[1], inputs.device,
                                         inputs.dtype)
        flip = inputs.shape[1] == 3 and self.student.to_rgb != \
            self.teacher.to_rgb
        if flip:
            inputs = inputs.flip(1)
        return torch.addcmul(shift, inputs, scale)

    def __call__(self, inputs: Tensor) -> Tensor:
        """The teacher's input for the student's batch ``inputs``.

        Args:
            inputs (Tensor): The student's preprocessed batch (B, C, H, W).

        Returns:
            Tensor: The teacher's input; ``inputs`` itself when both
            preprocess alike and the size is the teacher's.
        """
        size = self.teacher.size
        if size is None or tuple(inputs.shape[-2:]) == tuple(size):
            return self._normalise(inputs)
        grows = size[0] * size[1] > inputs.shape[-2] * inputs.shape[-1]
        resize = (lambda x: resize_like_pipeline(
            x, size, self.teacher.interpolation, self.teacher.backend))
        if grows:
            return resize(self._normalise(inputs))
        return self._normalise(resize(inputs))

    def describe(self) -> str:
        """What the student and the teacher get, for the build log."""
        lines = [
            f'Student input: {self.student.describe()}.',
            f'Teacher input: {self.teacher.describe()}.'
        ]
        if self.is_identity:
            lines.append('The teacher gets the student\'s batch unchanged.')
            return '\n'.join(lines)
        what = []
        if not self.same_pixels:
            what.append('with the student\'s normalisation undone and the '
                        'teacher\'s applied')
        if self.teacher.size is not None:
            mode, antialias = resize_mode(self.teacher.interpolation,
                                          self.teacher.backend)
            aa = '' if antialias is None else f', antialias={antialias}'
            what.append(f'resized to {self.teacher.size[0]}x'
                        f'{self.teacher.size[1]} on the device when it has '
                        f"another size (F.interpolate mode='{mode}'{aa})")
        lines.append('The teacher gets the student\'s batch ' +
                     ' and '.join(what) + '.')
        return '\n'.join(lines)


def resolve_teacher_preprocess(source: ModelSource,
                               student: ModelPreprocess,
                               teacher_input_size=None) -> ModelPreprocess:
    """The teacher's own preprocessing and input size.

    - A teacher given as a config (``mmpretrain::`` / ``mmenergykd::``
      reference, a file) or a model name: its config's data preprocessor
      and test pipeline (:func:`preprocess_from_config`).
    - A teacher dict: its ``data_preprocessor`` key (only ``mean``,
      ``std``, ``to_rgb`` are read); no size of its own.
    - Either without a data preprocessor: the student's normalisation
      (what a teacher got before it had its own).

    ``teacher_input_size`` (an int or ``(H, W)``) states or overrides the
    size; a dict teacher's resize is bilinear (``cv2``), MMPretrain's
    ``Resize`` default.

    Args:
        source (ModelSource): How the teacher was given.
        student (ModelPreprocess): The student's preprocessing.
        teacher_input_size (int | tuple, optional): The teacher's input
            size.

    Returns:
        ModelPreprocess: The teacher's preprocessing.
    """
    size = input_size(teacher_input_size)
    if source.config is not None:
        found = preprocess_from_config(source.config, source.model,
                                       source.reference, student)
    elif source.model.get('data_preprocessor'):
        found = preprocess_from_settings(source.model.data_preprocessor,
                                         'model.teacher.data_preprocessor')
    else:
        found = ModelPreprocess(
            mean=student.mean,
            std=student.std,
            to_rgb=student.to_rgb,
            source='the student\'s (model.teacher states no '
            'data_preprocessor)')
    return found.with_size(size, 'size from model.teacher_input_size')
