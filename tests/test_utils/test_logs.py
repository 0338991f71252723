# Copyright (c) mmenergykd contributors. All rights reserved.
"""Logs read as MMEngine's / MMPretrain's own: the checkpoint loaders keep
MMEngine's log line, and mmcv-lite's one inapplicable warning is hidden
(only that one, only under mmcv-lite)."""
import os
import subprocess
import sys
import warnings
from importlib import metadata

import torch
from mmengine.logging import MMLogger
from mmengine.runner import CheckpointLoader

import mmenergykd  # noqa: F401
from mmenergykd.utils.setup_env import (MMCV_LITE_WARNING,
                                        silence_mmcv_lite_warning)


def test_checkpoint_log_line_is_mmengines(tmp_path, capsys):
    path = str(tmp_path / 'w.pth')
    torch.save({'state_dict': {'w': torch.ones(1)}}, path)
    logger = MMLogger.get_instance('mmenergykd_log_test', log_level='INFO')
    CheckpointLoader.load_checkpoint(path, logger=logger)
    out = capsys.readouterr()
    log = out.out + out.err
    assert f'Loads checkpoint by local backend from path: {path}' in log
    assert '_checkpoint backend' not in log
    # the URL loader is named like MMEngine's too (-> "http backend")
    http = CheckpointLoader._get_checkpoint_loader('https://x/y.pth')
    assert http.__name__[10:] == 'http'


def _mmcv_lite_only() -> bool:
    names = {d.metadata['Name'].lower() for d in metadata.distributions()}
    return 'mmcv-lite' in names and 'mmcv' not in names


def test_mmcv_lite_warning_hidden_from_tools_only_that_one():
    script = ('import warnings; warnings.simplefilter("default"); '
              'import mmenergykd, mmpretrain.models; '
              'warnings.warn("another warning", UserWarning)')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = subprocess.run([sys.executable, '-c', script],
                            capture_output=True,
                            text=True,
                            env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'another warning' in result.stderr  # others are not filtered
    assert ('MultiScaleDeformableAttention' in result.stderr) is \
        (not _mmcv_lite_only())


def test_filter_matches_only_mmcv_transformer_module():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        installed = silence_mmcv_lite_warning()
        assert installed is _mmcv_lite_only()
        message = ('Fail to import ``MultiScaleDeformableAttention`` from '
                   '``mmcv.ops.multi_scale_deform_attn``')
        assert MMCV_LITE_WARNING[:10] in message
        # the same text from another module is not filtered
        warnings.warn_explicit(message, UserWarning, 'x.py', 1, module='x')
        warnings.warn_explicit(
            message,
            UserWarning,
            'transformer.py',
            1,
            module='mmcv.cnn.bricks.transformer')
    modules = [w.filename for w in caught]
    assert 'x.py' in modules
    assert ('transformer.py' in modules) is not installed
