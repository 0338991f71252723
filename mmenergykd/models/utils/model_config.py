# Copyright (c) mmenergykd contributors. All rights reserved.
"""Build an MMPretrain classifier from a dict or a config reference."""
import copy
from typing import Union

from mmengine.config import Config, ConfigDict
from mmengine.hub import get_config
from mmengine.registry import DefaultScope
from torch import nn

from mmenergykd.registry import MODELS

__all__ = ['resolve_model_cfg', 'build_classifier']


def resolve_model_cfg(cfg: Union[str, dict], role: str) -> ConfigDict:
    """The model dict of ``cfg``.

    Args:
        cfg (str | dict): A model dict (e.g. ``dict(type='ImageClassifier',
            ...)``), or a config holding ``model``: a path, or a package
            reference such as ``'mmpretrain::resnet/resnet34_8xb32_in1k.py'``.
        role (str): ``'student'`` or ``'teacher'``, for error messages.

    Returns:
        ConfigDict: The model config.
    """
    if isinstance(cfg, (dict, ConfigDict)):
        return ConfigDict(copy.deepcopy(dict(cfg)))
    if not isinstance(cfg, str):
        raise TypeError(f'`{role}` must be a model dict or a config path / '
                        f'reference, got {type(cfg).__name__}.')
    try:
        loaded = get_config(cfg) if '::' in cfg else Config.fromfile(cfg)
    except (FileNotFoundError, OSError) as err:
        raise FileNotFoundError(
            f'`model.{role}` refers to the config {cfg!r}, which cannot be '
            f'found ({err}). Use an existing config file or a package '
            "reference such as 'mmpretrain::resnet/resnet18_8xb32_in1k.py' "
            '(the path inside MMPretrain\'s configs/).') from err
    if 'model' not in loaded:
        raise ValueError(f'`{role}` config {cfg!r} has no `model` field.')
    return ConfigDict(copy.deepcopy(loaded.model.to_dict()))


def build_classifier(cfg: Union[str, dict], role: str) -> nn.Module:
    """Build an MMPretrain classifier (scope ``mmpretrain``).

    Args:
        cfg (str | dict): See :func:`resolve_model_cfg`.
        role (str): ``'student'`` or ``'teacher'``.

    Returns:
        nn.Module: The built model, e.g. an ``ImageClassifier``.
    """
    model_cfg = resolve_model_cfg(cfg, role)
    try:
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            model = MODELS.build(model_cfg)
    except KeyError as err:  # an unknown `type` somewhere in the config
        reason = err.args[0] if err.args else err
        raise KeyError(f'`model.{role}`: {reason} Check the `type` names in '
                       f'`model.{role}` (MMPretrain or mmenergykd '
                       'components).') from err
    for attr in ('extract_feat', 'head'):
        if getattr(model, attr, None) is None:
            raise TypeError(
                f'`model.{role}` must be an MMPretrain classifier with '
                f'`extract_feat` and a `head` (e.g. ImageClassifier with '
                f'a ClsHead), got {type(model).__name__} without `{attr}`.')
    return model
