# Copyright (c) mmenergykd contributors. All rights reserved.
"""What a model's own preprocessing does to an image: normalisation, channel
order, input size and the interpolation of its test pipeline."""
from dataclasses import dataclass, replace
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import nn

__all__ = [
    'ModelPreprocess', 'input_size', 'preprocess_from_config',
    'preprocess_from_module', 'preprocess_from_settings', 'pipeline_resize'
]

#: The transforms of a test pipeline that set the image's final size, and
#: their interpolation / backend defaults in MMPretrain 1.2.0 / MMCV 2.
_RESIZE_DEFAULTS = {
    'Resize': ('bilinear', 'cv2'),
    'ResizeEdge': ('bilinear', 'cv2'),
    'EfficientNetCenterCrop': ('bicubic', 'cv2'),
}
_CROPS = ('CenterCrop', 'EfficientNetCenterCrop')


def input_size(value: Any,
               name: str = 'teacher_input_size') -> Optional[Tuple[int, int]]:
    """An input size as ``(H, W)``.

    Args:
        value (int | tuple | None): An int (square) or ``(H, W)``.
        name (str): The setting, for error messages.

    Returns:
        tuple[int, int] | None: ``(H, W)``; None for None.
    """
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0
            for v in value):
        return int(value[0]), int(value[1])
    raise ValueError(f'`model.{name}` must be a positive int (a square '
                     f'input) or (H, W), got {value!r}.')


@dataclass(frozen=True)
class ModelPreprocess:
    """A model's own preprocessing of a raw image (BGR uint8, as loaded by
    ``LoadImageFromFile``).

    Attributes:
        mean (tuple[float], optional): Per-channel mean subtracted after
            the channel conversion (in the converted order); None: no
            normalisation.
        std (tuple[float], optional): Per-channel std divided by.
        to_rgb (bool): Whether BGR is converted to RGB first (3 channels
            only, as ``ClsDataPreprocessor``).
        size (tuple[int, int], optional): The input size ``(H, W)`` the
            model expects; None: whatever size it is given.
        interpolation (str): The interpolation of the test pipeline's
            resize (``'bilinear'``, ``'bicubic'``, ``'nearest'``,
            ``'area'``, ``'lanczos'``).
        backend (str): The test pipeline's resize backend (``'cv2'`` or
            ``'pillow'``).
        source (str): Where this was read from (for the log).
    """

    mean: Optional[Tuple[float, ...]] = None
    std: Optional[Tuple[float, ...]] = None
    to_rgb: bool = False
    size: Optional[Tuple[int, int]] = None
    interpolation: str = 'bilinear'
    backend: str = 'cv2'
    source: str = ''

    def same_pixels(self, other: 'ModelPreprocess') -> bool:
        """Whether both normalise and order channels alike."""
        return (self.mean, self.std, self.to_rgb) == (other.mean, other.std,
                                                      other.to_rgb)

    def with_size(self, size: Optional[Tuple[int, int]],
                  source: str) -> 'ModelPreprocess':
        """A copy with another input size (e.g. ``teacher_input_size``)."""
        if size is None:
            return self
        return replace(self, size=size, source=f'{self.source}; {source}')

    def describe(self) -> str:
        """One line for the log."""
        if self.mean is None:
            norm = 'no normalisation'
        else:
            norm = (f'mean={_fmt(self.mean)}, std={_fmt(self.std)}')
        order = 'BGR->RGB' if self.to_rgb else 'channels as loaded (BGR)'
        size = ('input size as given' if self.size is None else
                f'input size {self.size[0]}x{self.size[1]} '
                f'({self.interpolation}, {self.backend})')
        return f'{norm}, {order}, {size} [{self.source}]'

    def header(self) -> dict:
        """A plain dict (for a teacher bank's header)."""
        return dict(
            mean=None if self.mean is None else list(self.mean),
            std=None if self.std is None else list(self.std),
            to_rgb=self.to_rgb,
            size=None if self.size is None else list(self.size),
            interpolation=self.interpolation,
            backend=self.backend)


def _fmt(values: Sequence[float]) -> str:
    return '[' + ', '.join(f'{v:g}' for v in values) + ']'


def _floats(values: Any) -> Optional[Tuple[float, ...]]:
    """As float32 holds them (``ClsDataPreprocessor``'s buffers), so that a
    config and a built preprocessor compare equal."""
    if values is None:
        return None
    return tuple(
        torch.tensor([float(v) for v in values], dtype=torch.float32).tolist())


def preprocess_from_settings(settings: Mapping,
                             source: str) -> ModelPreprocess:
    """From a data preprocessor config (``ClsDataPreprocessor`` keys).

    Only ``mean``, ``std`` and ``to_rgb`` matter (``num_classes``, batch
    augments and the rest are the training's, not the model's).

    Args:
        settings (dict): The data preprocessor config.
        source (str): Where it was read from (for the log).

    Returns:
        ModelPreprocess: Without a size.
    """
    mean, std = settings.get('mean'), settings.get('std')
    if (mean is None) != (std is None):
        raise ValueError(f'{source}: `data_preprocessor` sets only one of '
                         '`mean` / `std`; set both or neither.')
    to_rgb = bool(
        settings.get('to_rgb', False) or settings.get('bgr_to_rgb', False)
        or settings.get('rgb_to_bgr', False))
    return ModelPreprocess(
        mean=_floats(mean), std=_floats(std), to_rgb=to_rgb, source=source)


def preprocess_from_module(preprocessor: nn.Module,
                           source: str) -> ModelPreprocess:
    """From a built data preprocessor (e.g. ``ClsDataPreprocessor``).

    Args:
        preprocessor (nn.Module): The data preprocessor.
        source (str): Where it comes from (for the log).

    Returns:
        ModelPreprocess: Without a size.
    """
    mean = std = None
    if getattr(preprocessor, '_enable_normalize', False):
        mean = _floats(preprocessor.mean.flatten().tolist())
        std = _floats(preprocessor.std.flatten().tolist())
    to_rgb = bool(
        getattr(preprocessor, '_channel_conversion',
                getattr(preprocessor, 'to_rgb', False)))
    return ModelPreprocess(mean=mean, std=std, to_rgb=to_rgb, source=source)


def _scale_hw(scale: Union[int, Sequence[int]]) -> Tuple[int, int]:
    """MMCV's ``scale`` / ``crop_size`` ``(w, h)`` (or an int) as (H, W)."""
    if isinstance(scale, int):
        return scale, scale
    return int(scale[1]), int(scale[0])


def pipeline_resize(pipeline: Sequence[Mapping]
                    ) -> Tuple[Optional[Tuple[int, int]], str, str]:
    """The output size and the resize interpolation of a test pipeline.

    The size is that of the last crop (``CenterCrop``,
    ``EfficientNetCenterCrop``) or of a ``Resize`` after which nothing
    crops; a ``ResizeEdge`` alone leaves the size to each image's aspect
    ratio (None). The interpolation and backend are those of the last
    transform that resizes, with MMPretrain's defaults.

    Args:
        pipeline (list[dict]): The test pipeline.

    Returns:
        tuple: ``(size or None, interpolation, backend)``.
    """
    size, interpolation, backend = None, 'bilinear', 'cv2'
    for step in pipeline:
        kind = str(step.get('type', '')).split('.')[-1]
        if kind in _RESIZE_DEFAULTS:
            interp, back = _RESIZE_DEFAULTS[kind]
            interpolation = step.get('interpolation', interp)
            backend = step.get('backend', back)
            if kind == 'Resize' and step.get('scale') is not None \
                    and not step.get('keep_ratio', False):
                size = _scale_hw(step['scale'])
            elif kind == 'ResizeEdge':
                size = None
        if kind in _CROPS and step.get('crop_size') is not None:
            size = _scale_hw(step['crop_size'])
    return size, interpolation, backend


def _test_pipeline(config: Mapping) -> Optional[Sequence[Mapping]]:
    for loader in ('test_dataloader', 'val_dataloader'):
        pipeline = ((config.get(loader) or {}).get('dataset')
                    or {}).get('pipeline')
        if pipeline:
            return pipeline
    return config.get('test_pipeline')


def preprocess_from_config(config: Mapping, model: Mapping, source: str,
                           fallback: ModelPreprocess) -> ModelPreprocess:
    """A model's preprocessing from the config it was given by.

    Normalisation: ``model.data_preprocessor``, else the config's top-level
    ``data_preprocessor`` (as MMEngine's Runner merges them), else
    ``fallback``'s (a model-only config states none). Size and
    interpolation: the test pipeline (``test_dataloader.dataset.pipeline``,
    else ``val_dataloader``'s, else ``test_pipeline``).

    Args:
        config (Mapping): The whole config.
        model (Mapping): Its model dict.
        source (str): The config's reference (for the log).
        fallback (ModelPreprocess): Used when the config states no
            normalisation (e.g. the student's).

    Returns:
        ModelPreprocess: The model's preprocessing.
    """
    settings = model.get('data_preprocessor') or config.get(
        'data_preprocessor')
    if settings:
        found = preprocess_from_settings(settings,
                                         f'data_preprocessor of {source}')
    else:
        found = replace(
            fallback,
            source=f'{fallback.source} ({source} states no '
            'data_preprocessor)')
    pipeline = _test_pipeline(config)
    if not pipeline:
        return replace(found, size=None)
    size, interpolation, backend = pipeline_resize(pipeline)
    return replace(
        found,
        size=size,
        interpolation=interpolation,
        backend=backend,
        source=f'{found.source}; size from the test pipeline of {source}')
