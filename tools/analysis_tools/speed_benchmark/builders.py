# Copyright (c) mmenergykd contributors. All rights reserved.
"""What the speed benchmark builds: the distiller, the student or the
teacher alone, the optimizer wrapper, synthetic data."""
import contextlib
import copy
import warnings
from typing import Callable, Dict, List, Sequence, Tuple
from unittest import mock

import torch
from torch import Tensor, nn

from .settings import BenchSettings


def quiet_logs() -> None:
    """Only warnings from MMEngine's current logger (no per-parameter
    initialisation lines)."""
    from mmengine.logging import MMLogger
    MMLogger.get_instance('mmenergykd_benchmark', log_level='WARNING')


def build_module(cfg: dict) -> nn.Module:
    """Build from the registry in MMPretrain's scope."""
    from mmengine.registry import DefaultScope

    from mmenergykd.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'), \
            warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='`teacher_ckpt` is None')
        return MODELS.build(cfg)


def build_distiller(setup: dict, device: torch.device) -> nn.Module:
    """The config's distiller with the energy variant of its loss."""
    model_cfg = dict(setup['model'])
    model_cfg['distill_losses'] = setup['energy_losses']
    model = build_module(model_cfg)
    return model.to(device).train()


def variant_losses(setup: dict, kind: str) -> Dict[str, nn.Module]:
    """Built loss modules of a variant (``'plain'`` or ``'energy'``)."""
    cfgs = setup['plain_losses'] if kind == 'plain' else \
        setup['energy_losses']
    return {name: build_module(cfg) for name, cfg in cfgs.items()}


def build_teacher(setup: dict, check_finite: bool = True):
    """The config's teacher alone, set up as the distiller sets it up.

    Returns:
        FrozenTeacher: Built, loaded strictly (random weights without
        ``--teacher-ckpt``), frozen, with the config's fast paths.
    """
    from mmenergykd.models.distillers import FrozenTeacher
    model_cfg = setup['model']
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='`teacher_ckpt` is None')
        return FrozenTeacher.build(
            model_cfg['teacher'],
            model_cfg.get('teacher_ckpt'),
            channels_last=bool(model_cfg.get('channels_last', False)),
            **dict(
                model_cfg.get('teacher_settings') or {},
                check_finite=check_finite))


def unchecked(teacher):
    """The same frozen teacher (same weights, same compiled forward)
    without the finite check of its logits: the teacher's forward alone."""
    view = copy.copy(teacher)
    view.check_finite = False
    return view


def build_preprocessor(setup: dict) -> nn.Module:
    """The distiller's data preprocessor, built alone."""
    cfg = dict(setup['model'].get('data_preprocessor') or {})
    cfg.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
    return build_module(cfg)


class StudentAlone(nn.Module):
    """The student with the distiller's preprocessing, memory format and
    loss weight, for the memory probe of the student step (where only what
    a variant needs may be built). Offers what :func:`student_step` uses of
    the distiller."""

    def __init__(self, setup: dict):
        super().__init__()
        from mmenergykd.models.utils import build_classifier
        model_cfg = setup['model']
        self.data_preprocessor = build_preprocessor(setup)
        self.channels_last = bool(model_cfg.get('channels_last', False))
        self.student_loss_weight = float(
            model_cfg.get('student_loss_weight', 1.0))
        self.student = build_classifier(model_cfg['student'], 'student')
        if self.channels_last:
            self.student.to(memory_format=torch.channels_last)

    def student_logits(self, inputs: Tensor) -> Tensor:
        """Student logits (with gradient), as the distiller's."""
        if self.channels_last and inputs.dim() == 4:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return self.student.head(self.student.extract_feat(inputs))


def synthetic_images(num: int, size: int, num_classes: int,
                     seed: int) -> Tuple[List[Tensor], List[int]]:
    """``num`` random uint8 images (3, size, size) and labels."""
    gen = torch.Generator().manual_seed(seed)
    images = [
        torch.randint(
            0, 256, (3, size, size), generator=gen, dtype=torch.uint8)
        for _ in range(num)
    ]
    labels = torch.randint(0, num_classes, (num, ), generator=gen).tolist()
    return images, labels


def make_batch(images: Sequence[Tensor], labels: Sequence[int],
               collate: str) -> dict:
    """A batch as the config's dataloader yields it."""
    from mmpretrain.structures import DataSample
    samples = [
        DataSample(metainfo=dict(sample_idx=i)).set_gt_label(int(label))
        for i, label in enumerate(labels)
    ]
    inputs = list(images)
    if collate == 'default_collate':
        inputs = torch.stack(inputs)
    return dict(inputs=inputs, data_samples=samples)


class _Dataset(torch.utils.data.Dataset):

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, idx):
        from mmpretrain.structures import DataSample
        sample = DataSample(metainfo=dict(sample_idx=idx))
        return dict(
            inputs=self.images[idx],
            data_samples=sample.set_gt_label(int(self.labels[idx])))


def make_loader(images: Sequence[Tensor], labels: Sequence[int],
                batch_size: int, collate: str) -> torch.utils.data.DataLoader:
    """An in-memory dataloader over the images, in order, collated as the
    config's dataloader collates."""
    from mmengine.dataset import default_collate, pseudo_collate
    return torch.utils.data.DataLoader(
        _Dataset(images, labels),
        batch_size=batch_size,
        shuffle=False,
        num_workers=0,
        collate_fn=default_collate
        if collate == 'default_collate' else pseudo_collate)


def amp_context(settings: BenchSettings, device: torch.device):
    """The autocast of AmpOptimWrapper's ``optim_context`` (or nothing)."""
    if not settings.amp:
        return contextlib.nullcontext()
    from mmengine.runner.amp import autocast
    return autocast(
        device_type=device.type, dtype=getattr(torch, settings.amp_dtype))


def amp_factory(settings: BenchSettings, device: torch.device
                ) -> Callable[[], contextlib.AbstractContextManager]:
    """A function returning a fresh :func:`amp_context`."""

    def amp():
        return amp_context(settings, device)

    return amp


def build_optim_wrapper(model: nn.Module, setup: dict, settings: BenchSettings,
                        device: torch.device):
    """The config's optim wrapper, or AmpOptimWrapper under ``--amp``.

    MMEngine's AmpOptimWrapper refuses to be built without a GPU; on a CPU
    the benchmark bypasses that check (its ``optim_context`` uses
    MMEngine's ``autocast``, which supports bfloat16 on the CPU; its
    GradScaler disables itself there).
    """
    from mmengine.optim import build_optim_wrapper as build
    cfg = copy.deepcopy(setup['optim_wrapper'])
    patch = contextlib.nullcontext()
    if settings.amp:
        if device.type == 'cpu' and settings.amp_dtype != 'bfloat16':
            raise ValueError(
                'MMEngine autocast supports only bfloat16 on the CPU; use '
                '--amp-dtype bfloat16 (float16 needs a GPU).')
        cfg['type'] = 'AmpOptimWrapper'
        cfg['dtype'] = settings.amp_dtype
        if device.type == 'cpu':
            patch = mock.patch(
                'mmengine.optim.optimizer.amp_optimizer_wrapper.'
                'is_cuda_available',
                return_value=True)
    with patch, warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='.*GradScaler')
        return build(model, cfg)
