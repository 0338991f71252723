# Copyright (c) mmenergykd contributors. All rights reserved.
"""Build an MMPretrain classifier from a dict or a config reference."""
from typing import Union

from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from torch import nn

from mmenergykd.registry import MODELS
from .model_source import resolve_model_source

__all__ = ['resolve_model_cfg', 'build_classifier']


def resolve_model_cfg(cfg: Union[str, dict], role: str) -> ConfigDict:
    """The model dict of ``cfg``.

    Args:
        cfg (str | dict): A model dict (e.g. ``dict(type='ImageClassifier',
            ...)``), a config holding ``model``: a path, or a package
            reference such as ``'mmpretrain::resnet/resnet34_8xb32_in1k.py'``,
            or a model name of MMPretrain's model index (see
            :func:`resolve_model_source`).
        role (str): ``'student'`` or ``'teacher'``, for error messages.

    Returns:
        ConfigDict: The model config.
    """
    return resolve_model_source(cfg, role).model


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
