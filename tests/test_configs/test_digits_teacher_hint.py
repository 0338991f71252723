"""A digits distill config without its teacher says how to make it."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmenergykd.registry import MODELS
from tests.helpers import CONFIGS


def test_missing_digits_teacher_names_the_command(tmp_path, monkeypatch):
    missing = str(tmp_path / 'no_teacher.pth')
    monkeypatch.setenv('MMENERGYKD_DIGITS_TEACHER', missing)
    cfg = Config.fromfile(
        osp.join(CONFIGS, 'digits',
                 'kd_cifarresnet20_cifarresnet8_1xb64_30e_digits.py'))
    assert cfg.model.teacher_ckpt == missing
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        with pytest.raises(FileNotFoundError) as info:
            MODELS.build(cfg.model)
    message = str(info.value)
    assert missing in message
    assert 'python tools/benchmark_digits.py' in message
