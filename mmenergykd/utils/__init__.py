# Copyright (c) mmenergykd contributors. All rights reserved.
from .checkpoint import (CheckpointSafetyError, load_local_checkpoint,
                         load_url_checkpoint, register_safe_checkpoint_loaders,
                         safe_globals_for_mmengine, safe_torch_load)
from .config_type import config_type_name
from .mim import register_mim_scope
from .setup_env import register_all_modules, silence_mmcv_lite_warning

__all__ = [
    'CheckpointSafetyError', 'load_local_checkpoint', 'load_url_checkpoint',
    'register_safe_checkpoint_loaders', 'safe_globals_for_mmengine',
    'safe_torch_load', 'register_mim_scope', 'register_all_modules',
    'config_type_name', 'silence_mmcv_lite_warning'
]
