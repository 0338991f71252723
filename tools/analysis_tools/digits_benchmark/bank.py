# Copyright (c) mmenergykd contributors. All rights reserved.
"""The digits benchmark's teacher bank: the teacher's logits for every
(training image, crop offset), computed once after the teacher is trained.

The digits pipeline's only random transform is ``RandomCrop(16, padding=2)``
(25 offsets), so the bank is exact: every step of every distillation run
reads the same logits the live teacher would compute on that crop (fp32,
bitwise on one machine; see docs/en/user_guides/teacher_bank.md). HE-DA's
mixed images are new images: the distiller still runs the teacher on them.
"""
import inspect
import os
import os.path as osp
import time
from typing import Optional

from mmengine.config import Config

from .settings import log


def bank_supported() -> bool:
    """Whether ``EnergyKDDistiller`` takes ``teacher_bank``."""
    from mmenergykd.models.distillers import EnergyKDDistiller
    return 'teacher_bank' in inspect.signature(
        EnergyKDDistiller.__init__).parameters


def build_bank(cfg: Config, work_dir: str) -> Optional[str]:
    """Build the exact fp32 bank for ``cfg`` (a distillation config of the
    benchmark, with its teacher checkpoint) with
    :func:`mmenergykd.apis.build_teacher_bank` (what
    ``tools/build_teacher_bank.py`` runs); returns its path."""
    from mmenergykd.apis import build_teacher_bank
    os.makedirs(osp.join(work_dir, 'teacher'), exist_ok=True)
    config = osp.join(work_dir, 'teacher', 'bank_config.py')
    cfg.dump(config)
    path = osp.join(work_dir, 'teacher', 'bank')
    start = time.perf_counter()
    build_teacher_bank(config, path, dtype='fp32')
    log(f'Teacher bank: {path} ({time.perf_counter() - start:.0f} s)')
    return path
