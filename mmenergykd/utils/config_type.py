# Copyright (c) mmenergykd contributors. All rights reserved.
"""The registered name of a config's ``type``."""
from typing import Any

__all__ = ['config_type_name']


def config_type_name(cfg: Any) -> str:
    """``'Name'`` for ``dict(type='scope.Name')``, ``'scope.Name'`` or a class.

    Args:
        cfg: A config dict (its ``type`` is read), a type string with or
            without a registry scope, or a class.

    Returns:
        str: The name without scope; ``''`` when there is none.

    Example:
        >>> config_type_name(dict(type='mmpretrain.EMAHook'))
        'EMAHook'
    """
    if isinstance(cfg, dict):
        cfg = cfg.get('type', '')
    if not isinstance(cfg, str):
        cfg = getattr(cfg, '__name__', '')
    return cfg.split('.')[-1]
