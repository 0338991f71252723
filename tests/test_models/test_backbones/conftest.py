# Copyright (c) mmenergykd contributors. All rights reserved.
"""Shared helpers for the CIFAR zoo backbone tests."""
from pathlib import Path
from typing import Callable

import mmpretrain.models  # noqa: F401  (registers ImageClassifier & co.)
import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

import mmenergykd.models.backbones  # noqa: F401  (registers the backbones)

CIFAR100_MODELS = Path(__file__).resolve().parents[3] / 'configs' / \
    '_base_' / 'models' / 'cifar100'


def _build(name: str) -> torch.nn.Module:
    cfg = Config.fromfile(str(CIFAR100_MODELS / f'{name}.py'))
    return MODELS.build(cfg.model)


@pytest.fixture(scope='session')
def build_zoo_classifier() -> Callable[[str], torch.nn.Module]:
    """Build ``ImageClassifier`` from ``configs/_base_/models/cifar100``."""
    return _build


def _check(model: torch.nn.Module, num_params: int, num_entries: int) -> None:
    model.eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 32, 32), mode='tensor')
    assert logits.shape == (2, 100)
    assert torch.isfinite(logits).all()
    assert sum(p.numel() for p in model.parameters()) == num_params
    # parameters + BN buffers (running stats, num_batches_tracked)
    assert len(model.state_dict()) == num_entries
    assert all(
        k.startswith(('backbone.', 'head.fc.')) for k in model.state_dict())


@pytest.fixture(scope='session')
def check_zoo_model() -> Callable[[torch.nn.Module, int, int], None]:
    """Forward a 2x3x32x32 batch to [2, 100] logits; compare the number of
    parameters and of state-dict entries with the original network's."""
    return _check
