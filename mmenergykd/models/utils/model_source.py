# Copyright (c) mmenergykd contributors. All rights reserved.
"""Where a model comes from: a dict, a config, or a name in MMPretrain's zoo.

A model of a distiller (teacher or student) is given as

- a model dict (``dict(type='ImageClassifier', ...)``);
- a config holding ``model``: a file path, or a package reference such as
  ``'mmpretrain::resnet/resnet34_8xb32_in1k.py'`` /
  ``'mmenergykd::...'`` (read through ``mmengine.hub.get_config``, offline);
- a model name of MMPretrain's model index, any name that
  ``mmpretrain.list_models()`` prints, e.g.
  ``'convnext-base_in21k-pre_3rdparty_in1k'``: its config and published
  weights come from ``mmpretrain.apis.ModelHub.get(name)``, as
  ``mmpretrain.get_model(name)`` finds them.

:func:`resolve_model_source` returns the model dict together with the whole
config it came from (for the model's own data preprocessor and test
pipeline) and, for a zoo name, the weights URL.
"""
import contextlib
import copy
import os.path as osp
from dataclasses import dataclass
from typing import Iterator, Optional, Union

from mmengine.config import Config, ConfigDict
from mmengine.hub import get_config

__all__ = [
    'ModelSource', 'resolve_model_source', 'zoo_model',
    'resolve_teacher_checkpoint', 'zoo_download_errors'
]


@dataclass
class ModelSource:
    """A model's config and where it came from.

    Attributes:
        model (ConfigDict): The model dict (what ``MODELS.build`` takes).
        config (Config, optional): The whole config the model dict was read
            from (its ``data_preprocessor`` and test pipeline describe the
            model's own preprocessing); None for a model dict.
        weights (str, optional): The published checkpoint of a model-index
            name (a URL); None otherwise.
        reference (str): How the model was given (a dict is ``'dict'``).
        zoo (bool): Whether it was given by its model-index name.
    """

    model: ConfigDict
    config: Optional[Config] = None
    weights: Optional[str] = None
    reference: str = 'dict'
    zoo: bool = False


def _looks_like_name(ref: str) -> bool:
    """A string that is neither a config reference nor a config file."""
    return '::' not in ref and not ref.endswith('.py') and not osp.isfile(
        osp.expanduser(ref))


def zoo_model(name: str, role: str = 'teacher') -> ModelSource:
    """A model of MMPretrain's model index, by name.

    Args:
        name (str): A name ``mmpretrain.list_models()`` prints (case is
            ignored, as MMPretrain does).
        role (str): ``'student'`` or ``'teacher'``, for error messages.

    Returns:
        ModelSource: The model dict of the name's config, the config and
        the published weights (``Weights`` in MMPretrain's metafile; None
        when the index lists none).

    Raises:
        FileNotFoundError: The name is not in the model index.
    """
    from mmpretrain.apis import ModelHub
    try:
        metainfo = ModelHub.get(name)
    except ValueError as err:
        raise FileNotFoundError(
            f'`model.{role}` is {name!r}: neither a config file nor a model '
            "name of MMPretrain's model index. Use a name that "
            '`mmpretrain.list_models()` prints (e.g. '
            "'convnext-base_in21k-pre_3rdparty_in1k'), a config file, or a "
            "package reference such as 'mmpretrain::resnet/"
            "resnet18_8xb32_in1k.py'.") from err
    config = metainfo.config
    if not isinstance(config, Config) or 'model' not in config:
        raise ValueError(f'`model.{role}` {name!r}: the model index lists '
                         'no config with a `model` for it.')
    return ModelSource(
        model=ConfigDict(copy.deepcopy(config.model.to_dict())),
        config=config,
        weights=getattr(metainfo, 'weights', None) or None,
        reference=name,
        zoo=True)


def _load_config(ref: str, role: str) -> Config:
    try:
        return get_config(ref) if '::' in ref else Config.fromfile(ref)
    except (FileNotFoundError, OSError) as err:
        raise FileNotFoundError(
            f'`model.{role}` refers to the config {ref!r}, which cannot be '
            f'found ({err}). Use an existing config file, a package '
            "reference such as 'mmpretrain::resnet/resnet18_8xb32_in1k.py' "
            "(the path inside MMPretrain's configs/), or a model name that "
            '`mmpretrain.list_models()` prints.') from err


def resolve_model_source(cfg: Union[str, dict],
                         role: str = 'teacher') -> ModelSource:
    """The model dict of ``cfg``, with its config and published weights.

    Args:
        cfg (str | dict): A model dict, a config path or package reference,
            or a model name of MMPretrain's model index.
        role (str): ``'student'`` or ``'teacher'``, for error messages.

    Returns:
        ModelSource: See :class:`ModelSource`.
    """
    if isinstance(cfg, (dict, ConfigDict)):
        return ModelSource(model=ConfigDict(copy.deepcopy(dict(cfg))))
    if not isinstance(cfg, str):
        raise TypeError(f'`{role}` must be a model dict, a config path / '
                        'reference or a model name of MMPretrain, got '
                        f'{type(cfg).__name__}.')
    if _looks_like_name(cfg):
        return zoo_model(cfg, role)
    loaded = _load_config(cfg, role)
    if 'model' not in loaded:
        raise ValueError(f'`{role}` config {cfg!r} has no `model` field.')
    return ModelSource(
        model=ConfigDict(copy.deepcopy(loaded.model.to_dict())),
        config=loaded,
        reference=cfg)


def resolve_teacher_checkpoint(source: ModelSource,
                               teacher_ckpt: Optional[str],
                               allow_random: bool = False) -> Optional[str]:
    """The teacher's checkpoint: ``teacher_ckpt`` when set, else the
    published weights of a model-index name.

    Args:
        source (ModelSource): How the teacher was given.
        teacher_ckpt (str, optional): ``model.teacher_ckpt`` (overrides the
            published weights).
        allow_random (bool): ``teacher_settings.allow_random`` (smoke tests
            and speed benchmarks): a named teacher keeps random weights
            instead of fetching its published ones.

    Returns:
        str | None: A path or URL; None for a teacher without either (its
        own ``Pretrained`` init_cfg, or random weights, decide then).
    """
    if teacher_ckpt is not None or allow_random:
        return teacher_ckpt
    return source.weights


@contextlib.contextmanager
def zoo_download_errors(source: ModelSource,
                        checkpoint: Optional[str]) -> Iterator[None]:
    """Name the model-index teacher and the override when its published
    weights cannot be downloaded (e.g. offline).

    Args:
        source (ModelSource): How the teacher was given.
        checkpoint (str, optional): The checkpoint being loaded.
    """
    try:
        yield
    except ConnectionError as err:
        if not source.zoo or checkpoint != source.weights:
            raise
        raise ConnectionError(
            f'`model.teacher` is {source.reference!r}, a model of '
            "MMPretrain's model index, whose published weights "
            f'{checkpoint} could not be downloaded ({err}). Download that '
            'file on a machine with internet access and pass it with '
            '`model.teacher_ckpt=/path/to/file.pth` (--cfg-options '
            'model.teacher_ckpt=...), which overrides the published '
            'weights.') from err
