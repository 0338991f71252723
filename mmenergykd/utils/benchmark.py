# Copyright (c) mmenergykd contributors. All rights reserved.
"""Speed and memory of a distillation config against its physical limit.

The engine of ``tools/benchmark_speed.py``. A distillation step can never
cost less than the student's own training step plus the teacher's forward
pass (the *limit*). In one process, on one synthetic batch at the config's
crop size, this measures with warm-up and medians:

- ``student``: the student's training step alone (preprocessing, forward,
  CE loss, backward, optimizer step);
- ``teacher``: the teacher's forward alone (eval mode, no gradient, on the
  preprocessed batch, with the distiller's fast paths);
- ``kd``, ``energykd``: full ``model.train_step`` of the distiller with the
  config's loss and its vanilla counterpart (KD <-> Energy KD, DKD <->
  Energy DKD, same base temperature and weight);
- ``heda@r``: Energy KD + HE-DA, with the HE-DA threshold set so that
  exactly ``int(B * r)`` samples of the batch qualify;
- ``student_fb@k``, ``teacher@k``: the student's forward + backward and the
  teacher's forward on ``k`` samples, the extra work HE-DA implies;
- ``kd_loss``, ``energykd_loss``: the loss modules alone (forward and
  backward on the batch's logits, plus the logged energy-group shares);
- the calibration pass (``mmenergykd.engine.calibration.calibrate_energy``
  on an in-memory dataloader) against plain teacher inference on the same
  loader, in images/s;

and, each in a fresh subprocess, the peak memory of each variant (CUDA: the
maximum allocated memory; CPU: the process's peak RSS minus its RSS before
the variant's models were built).

Step variants are timed round-robin (one step of each per round, the order
rotating), so a slow drift of the machine affects all of them alike.
"""
import argparse
import contextlib
import copy
import json
import os
import os.path as osp
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Callable, Dict, List, Optional, Sequence, Tuple
from unittest import mock

import torch
from torch import Tensor, nn

from .config_type import config_type_name

__all__ = [
    'BenchSettings', 'run_benchmark', 'format_report', 'main', 'TARGETS'
]

#: Targets of the issue. ``*_over_*`` ratios of step times or memory must be
#: at most the value; the calibration throughput ratio at least the value;
#: HE-DA's step within the tolerance of its predicted cost.
TARGETS = OrderedDict([
    ('energykd_over_kd', ('<=', 1.02)),
    ('kd_over_limit', ('<=', 1.05)),
    ('energykd_over_limit', ('<=', 1.05)),
    ('calibration_over_teacher_eval', ('>=', 0.95)),
    ('energykd_memory_over_limit', ('<=', 1.05)),
    ('heda_over_predicted', ('+-', 0.10)),
])

_ENERGY_TYPES = ('EnergyKDLoss', 'EnergyDKDLoss')
_PLAIN_TYPES = ('KDLoss', 'DKDLoss')


class BenchSettings(SimpleNamespace):
    """All settings of one benchmark (JSON-serialisable)."""

    DEFAULTS = dict(
        config=None,
        device='cpu',
        amp=False,
        amp_dtype='bfloat16',
        batch_size=None,
        img_size=None,
        iters=10,
        warmup=2,
        teacher_ckpt=None,
        channels_last=None,
        teacher_inference_mode=None,
        compile_teacher=None,
        check_finite_teacher=None,
        heda_ratios=(0.0, 0.25, 0.5, 1.0),
        calib_batches=None,
        memory=True,
        cudnn_benchmark=None,
        loss_reps=20,
        calib_passes=3,
        timer='wall',
        memory_jobs=2,
        threads=None,
        seed=0)

    def __init__(self, **kwargs):
        values = dict(self.DEFAULTS)
        unknown = set(kwargs) - set(values)
        if unknown:
            raise TypeError(f'unknown settings {sorted(unknown)}')
        values.update(kwargs)
        values['heda_ratios'] = [float(r) for r in values['heda_ratios']]
        super().__init__(**values)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.DEFAULTS}


# ----------------------------------------------------------------------
# config


def _derive_losses(distill_losses: dict) -> Tuple[dict, dict, str, str]:
    """The vanilla and the energy variant of the config's distill loss.

    Returns ``(plain, energy, plain_label, energy_label)``: two
    ``distill_losses`` dicts. The config's energy loss gives its vanilla
    counterpart at ``mid_temperature`` and the same weight (and alpha / beta
    for DKD); a config with a vanilla loss gets the energy variant with
    temperatures 1.5 / 1 / 0.5 x its temperature (the paper's direction).
    """
    for name, cfg in distill_losses.items():
        kind = config_type_name(cfg)
        cfg = dict(cfg)
        cfg.pop('type')
        if kind in _ENERGY_TYPES:
            mid = cfg.get('mid_temperature', 4.0)
            plain = dict(
                temperature=mid, loss_weight=cfg.get('loss_weight', 1.0))
            if kind == 'EnergyDKDLoss':
                plain.update(
                    alpha=cfg.get('alpha', 1.0), beta=cfg.get('beta', 8.0))
                return (dict(loss_dkd=dict(type='DKDLoss', **plain)), {
                    name: dict(type=kind, **cfg)
                }, 'DKD', 'Energy DKD')
            return (dict(loss_kd=dict(type='KDLoss', **plain)), {
                name: dict(type=kind, **cfg)
            }, 'KD', 'Energy KD')
        if kind in _PLAIN_TYPES:
            temp = cfg.get('temperature', 4.0)
            energy = dict(
                low_energy_temperature=1.5 * temp,
                mid_temperature=temp,
                high_energy_temperature=0.5 * temp,
                loss_weight=cfg.get('loss_weight', 1.0))
            if kind == 'DKDLoss':
                energy.update(
                    alpha=cfg.get('alpha', 1.0), beta=cfg.get('beta', 8.0))
                return ({
                    name: dict(type=kind, **cfg)
                }, dict(loss_energydkd=dict(type='EnergyDKDLoss', **energy)),
                        'DKD', 'Energy DKD')
            return ({
                name: dict(type=kind, **cfg)
            }, dict(loss_energykd=dict(type='EnergyKDLoss', **energy)), 'KD',
                    'Energy KD')
    raise ValueError(
        'The config has no KDLoss, DKDLoss, EnergyKDLoss or EnergyDKDLoss in '
        '`model.distill_losses`; the benchmark compares those.')


def _crop_size(cfg) -> Optional[int]:
    try:
        pipeline = cfg.train_dataloader.dataset.pipeline
    except (AttributeError, KeyError):
        return None
    for step in pipeline:
        kind = config_type_name(step)
        value = None
        if kind == 'RandomResizedCrop':
            value = step.get('scale')
        elif kind in ('CenterCrop', 'RandomCrop'):
            value = step.get('crop_size', step.get('size'))
        if value is not None:
            return int(value if isinstance(value, int) else value[0])
    return None


def load_setup(settings: BenchSettings) -> dict:
    """Everything the benchmark needs from the config."""
    from mmengine.config import Config
    cfg = Config.fromfile(settings.config)
    model_cfg = copy.deepcopy(cfg.model.to_dict())
    model_cfg['teacher_ckpt'] = settings.teacher_ckpt
    # Timing needs no trained teacher: random weights cost the same.
    model_cfg['allow_random_teacher'] = settings.teacher_ckpt is None
    if model_cfg.get('data_preprocessor') is None \
            and cfg.get('data_preprocessor') is not None:
        # as MMEngine's Runner does
        model_cfg['data_preprocessor'] = cfg.data_preprocessor.to_dict()
    for flag in ('channels_last', 'teacher_inference_mode', 'compile_teacher',
                 'check_finite_teacher'):
        if getattr(settings, flag) is not None:
            model_cfg[flag] = getattr(settings, flag)
    plain, energy, plain_label, energy_label = _derive_losses(
        model_cfg.get('distill_losses') or {})
    energy_cfg = next(iter(energy.values()))
    heda = dict(
        augment='cutmix',
        kd_term='energy',
        temperature=energy_cfg.get('mid_temperature', 4.0),
        loss_weight=energy_cfg.get('loss_weight', 1.0),
        energy_temperature=energy_cfg.get('energy_temperature', 4.0))
    for hook in cfg.get('custom_hooks', []) or []:
        if config_type_name(hook) == 'HighEnergyAugmentHook':
            hook = dict(hook)
            for key in ('type', 'high_ratio', 'epochs', 'seed', 'priority'):
                hook.pop(key, None)
            heda.update(hook)
    loader = cfg.get('train_dataloader') or {}
    collate = config_type_name(loader.get('collate_fn')
                               or {}) or 'pseudo_collate'
    optim = cfg.get('optim_wrapper') or dict(
        optimizer=dict(type='SGD', lr=0.1, momentum=0.9))
    optim = copy.deepcopy(
        optim.to_dict() if hasattr(optim, 'to_dict') else dict(optim))
    env = cfg.get('env_cfg') or {}
    student = model_cfg['student']
    head = student.get('head', {}) if isinstance(student, dict) else {}
    num_classes = head.get('num_classes') or (
        model_cfg.get('data_preprocessor') or {}).get('num_classes') or 1000
    return dict(
        model=model_cfg,
        plain_losses=plain,
        energy_losses=energy,
        plain_label=plain_label,
        energy_label=energy_label,
        heda=heda,
        collate=collate,
        optim_wrapper=optim,
        img_size=settings.img_size or _crop_size(cfg) or 224,
        batch_size=settings.batch_size or loader.get('batch_size') or 32,
        num_classes=int(num_classes),
        cudnn_benchmark=env.get('cudnn_benchmark', False)
        if settings.cudnn_benchmark is None else settings.cudnn_benchmark)


# ----------------------------------------------------------------------
# building blocks


def _quiet_logs() -> None:
    """Only warnings from MMEngine's current logger (no per-parameter
    initialisation lines)."""
    from mmengine.logging import MMLogger
    MMLogger.get_instance('mmenergykd_benchmark', log_level='WARNING')


def _build(cfg: dict) -> nn.Module:
    from mmengine.registry import DefaultScope

    from mmenergykd.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'), \
            warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='`teacher_ckpt` is None')
        return MODELS.build(cfg)


def build_distiller(setup: dict, device: torch.device) -> nn.Module:
    model_cfg = dict(setup['model'])
    model_cfg['distill_losses'] = setup['energy_losses']
    model = _build(model_cfg)
    return model.to(device).train()


class Parts(nn.Module):
    """Student alone or teacher alone, with the distiller's preprocessing,
    memory format and teacher forward (for the memory probes, where only
    what a variant needs may be built)."""

    def __init__(self, setup: dict, student: bool, teacher: bool):
        super().__init__()
        from mmenergykd.models.utils import (build_classifier,
                                             load_teacher_checkpoint)
        model_cfg = setup['model']
        preprocessor = dict(model_cfg.get('data_preprocessor') or {})
        preprocessor.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
        self.data_preprocessor = _build(preprocessor)
        self.channels_last = bool(model_cfg.get('channels_last', False))
        self.teacher_inference_mode = bool(
            model_cfg.get('teacher_inference_mode', False))
        self.student_loss_weight = float(
            model_cfg.get('student_loss_weight', 1.0))
        self.student = build_classifier(model_cfg['student'],
                                        'student') if student else None
        teacher_model = None
        if teacher:
            teacher_model = build_classifier(model_cfg['teacher'], 'teacher')
            if model_cfg.get('teacher_ckpt'):
                load_teacher_checkpoint(teacher_model,
                                        model_cfg['teacher_ckpt'])
            teacher_model.eval().requires_grad_(False)
        self.teacher = teacher_model
        for module in (self.student, self.teacher):
            if module is not None and self.channels_last:
                module.to(memory_format=torch.channels_last)
        forward = self._plain_teacher_forward
        compile_teacher = model_cfg.get('compile_teacher', False)
        if teacher and compile_teacher:
            options = compile_teacher if isinstance(compile_teacher,
                                                    dict) else {}
            forward = torch.compile(forward, **options)
        self.__dict__['_teacher_forward'] = forward

    def _plain_teacher_forward(self, inputs: Tensor) -> Tensor:
        return self.teacher.head(self.teacher.extract_feat(inputs))

    def _format(self, inputs: Tensor) -> Tensor:
        if self.channels_last and inputs.dim() == 4:
            return inputs.contiguous(memory_format=torch.channels_last)
        return inputs


def synthetic_images(num: int, size: int, num_classes: int,
                     seed: int) -> Tuple[List[Tensor], List[int]]:
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


def _collate_fn(collate: str) -> Callable:
    from mmengine.dataset import default_collate, pseudo_collate
    return default_collate if collate == 'default_collate' else \
        pseudo_collate


def amp_context(settings: BenchSettings, device: torch.device):
    """The autocast of AmpOptimWrapper's ``optim_context`` (or nothing)."""
    if not settings.amp:
        return contextlib.nullcontext()
    from mmengine.runner.amp import autocast
    return autocast(
        device_type=device.type, dtype=getattr(torch, settings.amp_dtype))


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


# ----------------------------------------------------------------------
# the measured operations


def student_step(model, data: dict, optim_wrapper) -> float:
    """The student's own training step, as the distiller's minus teacher and
    distill losses (and as MMEngine's ``train_step`` + log read-back)."""
    with optim_wrapper.optim_context(model):
        data = model.data_preprocessor(data, True)
        inputs = model._format(data['inputs'])
        logits = model.student.head(model.student.extract_feat(inputs))
        loss = model.student.head._get_loss(
            logits, data['data_samples'])['loss'] * model.student_loss_weight
    optim_wrapper.update_params(loss)
    return loss.item()


def teacher_forward(model, inputs: Tensor, amp) -> Tensor:
    """The teacher's forward alone: no preprocessing, no finite check."""
    grad_off = torch.inference_mode if model.teacher_inference_mode else \
        torch.no_grad
    with grad_off(), amp():
        return model.__dict__['_teacher_forward'](model._format(inputs))


def student_forward_backward(model, inputs: Tensor, amp) -> None:
    """Forward + backward of the student on ``inputs`` (HE-DA's extra
    student work), accumulating into the existing gradients."""
    with amp():
        logits = model.student.head(
            model.student.extract_feat(model._format(inputs)))
    logits.float().logsumexp(dim=1).mean().backward()


def distill_step(model, data: dict, optim_wrapper) -> Dict[str, float]:
    """``model.train_step`` plus the read-back of its log values, as
    MMEngine's RuntimeInfoHook does every iteration."""
    log_vars = model.train_step(data, optim_wrapper)
    return {k: float(v.item()) for k, v in log_vars.items()}


def loss_only(model, student_logits: Tensor, teacher_logits: Tensor,
              labels: Tensor) -> None:
    """The distill losses and the logged group shares alone, with backward
    (what Energy KD adds on top of KD in a step)."""
    from mmenergykd.models.losses import DKDLoss, EnergyDKDLoss
    from mmenergykd.models.losses.energy import group_shares
    student_logits.grad = None
    total = 0
    for loss in model.distill_losses.values():
        if isinstance(loss, (DKDLoss, EnergyDKDLoss)):
            total = total + loss(student_logits, teacher_logits, labels)
        else:
            total = total + loss(student_logits, teacher_logits)
        if hasattr(loss, 'energy_groups'):
            group_shares(loss.energy_groups(teacher_logits))
    total.backward()


# ----------------------------------------------------------------------
# timing


class _Clock:
    """Wall-clock time (the default; synchronised on CUDA) or, on a shared
    CPU machine, the process's CPU time over all its threads
    (``--timer process``), which other processes' load barely changes."""

    def __init__(self, device: torch.device, timer: str = 'wall'):
        self.cuda = device.type == 'cuda'
        if timer not in ('wall', 'process'):
            raise ValueError(f"timer must be 'wall' or 'process', got "
                             f'{timer!r}')
        if timer == 'process' and self.cuda:
            raise ValueError('--timer process measures CPU time: use it with '
                             '--device cpu only.')
        self.now = time.perf_counter if timer == 'wall' else \
            time.process_time

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def time(self, fn: Callable) -> float:
        self.sync()
        start = self.now()
        fn()
        self.sync()
        return self.now() - start


def _stats(times: List[float], images: int) -> dict:
    median = statistics.median(times)
    return dict(
        median_s=median,
        mean_s=statistics.fmean(times),
        min_s=min(times),
        max_s=max(times),
        n=len(times),
        times_s=list(times),
        images=images,
        images_per_s=images / median if median > 0 else float('inf'))


def _heda_threshold(energies: Tensor, count: int) -> float:
    """A threshold above which exactly ``count`` of ``energies`` lie
    (halfway between neighbours, so round-off cannot move a sample)."""
    ordered = energies.float().sort().values.tolist()
    num = len(ordered)
    if count <= 0:
        return float('inf')
    if count >= num:
        return float('-inf')
    return (ordered[num - count - 1] + ordered[num - count]) / 2


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _environment(device: torch.device) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    env = dict(
        load_average=list(os.getloadavg())
        if hasattr(os, 'getloadavg') else None,
        torch=torch.__version__,
        python=platform.python_version(),
        cpu=cpu,
        cpu_count=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        omp_wait_policy=os.environ.get('OMP_WAIT_POLICY'))
    if device.type == 'cuda':
        env['gpu'] = torch.cuda.get_device_name(device)
        env['cuda'] = torch.version.cuda
        env['cudnn'] = torch.backends.cudnn.version()
    return env


def _variant_losses(setup: dict, model, kind: str) -> Dict[str, nn.Module]:
    """Built loss modules of a variant (``'plain'`` or ``'energy'``)."""
    from mmenergykd.registry import MODELS
    cfgs = setup['plain_losses'] if kind == 'plain' else \
        setup['energy_losses']
    return {name: _build_loss(MODELS, cfg) for name, cfg in cfgs.items()}


def _build_loss(registry, cfg: dict) -> nn.Module:
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return registry.build(cfg)


def run_benchmark(settings: BenchSettings) -> dict:
    """Run every measurement; returns the report dict (see module doc)."""
    from mmenergykd.engine.calibration import calibrate_energy
    from mmenergykd.models.augments import HighEnergyAugment
    from mmenergykd.models.losses import energy_score
    from mmenergykd.utils import register_all_modules
    register_all_modules()
    _quiet_logs()
    load_start = list(os.getloadavg()) if hasattr(os, 'getloadavg') else None
    device = torch.device(settings.device)
    setup = load_setup(settings)
    batch_size, img_size = setup['batch_size'], setup['img_size']
    torch.backends.cudnn.benchmark = bool(setup['cudnn_benchmark'])
    torch.manual_seed(settings.seed)
    clock = _Clock(device, settings.timer)

    def amp():
        return amp_context(settings, device)

    _log(f'building {settings.config} on {device} (batch {batch_size}, '
         f'{img_size} px)...')
    model = build_distiller(setup, device)
    optim_wrapper = build_optim_wrapper(model, setup, settings, device)
    plain_losses = _variant_losses(setup, model, 'plain')
    energy_losses = _variant_losses(setup, model, 'energy')
    calib_batches = settings.calib_batches or max(3, settings.iters // 2)
    images, labels = synthetic_images(
        max(calib_batches, 1) * batch_size, img_size, setup['num_classes'],
        settings.seed)
    data = make_batch(images[:batch_size], labels[:batch_size],
                      setup['collate'])

    # -- the calibration pass: sets the energy loss's thresholds -------
    loader = torch.utils.data.DataLoader(
        _Dataset(images, labels),
        batch_size=batch_size,
        shuffle=False,
        num_workers=0,
        collate_fn=_collate_fn(setup['collate']))
    runner = SimpleNamespace(
        model=model,
        train_dataloader=loader,
        optim_wrapper=optim_wrapper,
        seed=settings.seed)
    model.set_distill_losses(energy_losses)
    model.high_energy_augment = None
    _log('calibration pass (also warm-up)...')
    calibration = calibrate_energy(runner)

    # -- fixed inputs -------------------------------------------------
    with torch.no_grad():
        pre = model.data_preprocessor(copy.deepcopy(data), True)
        inputs = pre['inputs']
        with amp():
            teacher_logits = model.teacher_logits(inputs)
        energies = energy_score(teacher_logits,
                                setup['heda']['energy_temperature'])
        gt_labels = torch.cat([s.gt_label
                               for s in pre['data_samples']]).to(device)
    logits_for_loss = teacher_logits.float()
    student_leaf = torch.randn_like(logits_for_loss).requires_grad_(True)

    # -- HE-DA modules: exactly int(B * r) samples qualify -------------
    heda_modules = OrderedDict()
    heda_counts = {}
    for ratio in settings.heda_ratios:
        module = HighEnergyAugment(
            high_ratio=min(max(ratio, 0.0), 1.0),
            seed=settings.seed,
            **setup['heda']).to(device)
        count = int(batch_size * ratio)
        module.set_thresholds(float('-inf'), _heda_threshold(energies, count))
        heda_modules[ratio] = module
        heda_counts[ratio] = count if count >= 2 else 0
    sub_sizes = sorted({c for c in heda_counts.values() if c >= 2})

    # -- the variants ---------------------------------------------------
    # Every step starts as after MMEngine's zero_grad (gradients None);
    # only HE-DA's extra backward (student_fb@k) adds into existing ones.
    def use(losses, heda=None):

        def prepare():
            model.set_distill_losses(losses)
            model.high_energy_augment = heda
            model.zero_grad(set_to_none=True)

        return prepare

    def nothing():
        model.zero_grad(set_to_none=True)

    def zero_grads():
        # HE-DA's extra backward accumulates into the gradients of the same
        # step's main backward: time it adding into existing gradients.
        for param in model.student.parameters():
            if param.grad is None:
                param.grad = torch.zeros_like(param)

    heda_seen: Dict[float, List[float]] = {r: [] for r in heda_modules}

    def heda_step(ratio):

        def run():
            log = distill_step(model, data, optim_wrapper)
            heda_seen[ratio].append(log.get('heda_num', 0.0))

        return run

    variants = OrderedDict()
    variants['student'] = (nothing,
                           lambda: student_step(model, data, optim_wrapper),
                           batch_size)
    variants['teacher'] = (nothing,
                           lambda: teacher_forward(model, inputs, amp),
                           batch_size)
    variants['kd'] = (use(plain_losses),
                      lambda: distill_step(model, data, optim_wrapper),
                      batch_size)
    variants['energykd'] = (use(energy_losses),
                            lambda: distill_step(model, data, optim_wrapper),
                            batch_size)
    for ratio, module in heda_modules.items():
        variants[f'heda@{ratio:g}'] = (use(energy_losses, module),
                                       heda_step(ratio), batch_size)
    for k in sub_sizes:
        variants[f'student_fb@{k}'] = (
            zero_grads,
            lambda k=k: student_forward_backward(model, inputs[:k], amp), k)
        if k != batch_size:
            variants[f'teacher@{k}'] = (
                nothing, lambda k=k: teacher_forward(model, inputs[:k], amp),
                k)
    reps = max(1, int(settings.loss_reps))

    def loss_loop():
        for _ in range(reps):
            # new logits each time, as in a real step (the energy cache is
            # per logits tensor); the clone costs both rows the same
            loss_only(model, student_leaf, logits_for_loss.clone(), gt_labels)

    variants['kd_loss'] = (use(plain_losses), loss_loop, batch_size)
    variants['energykd_loss'] = (use(energy_losses), loss_loop, batch_size)

    # -- round-robin timing ----------------------------------------------
    names = list(variants)
    times: Dict[str, List[float]] = {name: [] for name in names}
    rounds = settings.warmup + settings.iters
    for round_idx in range(rounds):
        offset = round_idx % len(names)
        order = names[offset:] + names[:offset]
        started = time.perf_counter()
        for name in order:
            prepare, run, _ = variants[name]
            prepare()
            elapsed = clock.time(run)
            if round_idx >= settings.warmup:
                times[name].append(elapsed)
        model.zero_grad(set_to_none=True)
        _log(f'round {round_idx + 1}/{rounds} '
             f'({"warm-up" if round_idx < settings.warmup else "timed"}): '
             f'{time.perf_counter() - started:.1f} s')
    timings = OrderedDict()
    for name in names:
        stats = _stats(times[name], variants[name][2])
        if name.endswith('_loss'):
            for key in ('median_s', 'mean_s', 'min_s', 'max_s'):
                stats[key] /= reps
            stats['times_s'] = [t / reps for t in stats['times_s']]
            stats['images_per_s'] *= reps
        timings[name] = stats

    # -- calibration against plain teacher inference ------------------
    model.set_distill_losses(energy_losses)
    model.high_energy_augment = None

    def plain_pass():
        for batch in loader:
            pre_batch = model.data_preprocessor(batch, False)
            with torch.no_grad(), amp():
                model.teacher(
                    model._format(pre_batch['inputs']), mode='tensor')

    passes = dict(calibration=[], teacher_eval=[])
    num_passes = max(1, settings.calib_passes)
    _log(f'calibration vs plain teacher inference ({calib_batches} '
         f'batches a pass, {num_passes} passes each, alternating)...')
    plain_pass()  # warm-up (the calibration's was the first pass above)
    for idx in range(num_passes):
        runs = [('teacher_eval', plain_pass),
                ('calibration', lambda: calibrate_energy(runner))]
        for name, run in runs if idx % 2 else runs[::-1]:
            passes[name].append(clock.time(run))
    for name in ('calibration', 'teacher_eval'):
        # one "step" = one pass over calib_batches batches
        timings[name] = _stats(passes[name], calib_batches * batch_size)

    # -- memory ---------------------------------------------------------
    thresholds = dict(
        energy={
            name: [float(loss.low_threshold),
                   float(loss.high_threshold)]
            for name, loss in energy_losses.items()
            if hasattr(loss, 'low_threshold')
        },
        heda={
            f'{r:g}': float(m.high_threshold)
            for r, m in heda_modules.items()
        })
    memory = OrderedDict()
    if settings.memory:
        probe_names = ['student', 'teacher', 'kd', 'energykd'] + [
            f'heda@{r:g}' for r in heda_modules
        ] + ['calibration', 'teacher_eval']
        _log(f'memory probes: {len(probe_names)} fresh processes, '
             f'{settings.memory_jobs} at a time...')
        with ThreadPoolExecutor(max(1, settings.memory_jobs)) as pool:
            results = pool.map(
                lambda name: run_probe_subprocess(settings, name, thresholds),
                probe_names)
            for name, result in zip(probe_names, results):
                memory[name] = result

    report = OrderedDict(
        command=None,
        config=settings.config,
        settings=settings.to_dict(),
        device=str(device),
        environment=dict(_environment(device), load_average_start=load_start),
        batch_size=batch_size,
        img_size=img_size,
        labels=dict(kd=setup['plain_label'], energykd=setup['energy_label']),
        loss_configs=dict(
            kd=setup['plain_losses'],
            energykd=setup['energy_losses'],
            heda=setup['heda']),
        fast_paths=dict(
            channels_last=bool(model.channels_last),
            teacher_inference_mode=bool(model.teacher_inference_mode),
            compile_teacher=setup['model'].get('compile_teacher', False),
            check_finite_teacher=bool(model.check_finite_teacher),
            check_finite_loss=bool(model.check_finite_loss),
            amp=settings.amp and settings.amp_dtype,
            cudnn_benchmark=bool(setup['cudnn_benchmark'])),
        calibration=dict(
            num_samples=calibration['num_samples'],
            thresholds=calibration['thresholds']),
        heda_selected={
            f'{r:g}':
            dict(
                expected=heda_counts[r],
                observed=sorted(set(int(v) for v in heda_seen[r])))
            for r in heda_modules
        },
        timings=timings,
        memory=memory)
    report['ratios'], report['targets'] = compute_ratios(
        timings, memory, settings.heda_ratios, heda_counts, batch_size)
    report['ratios_of_min'], report['targets_of_min'] = compute_ratios(
        timings,
        memory,
        settings.heda_ratios,
        heda_counts,
        batch_size,
        stat='min_s')
    return report


# ----------------------------------------------------------------------
# ratios


def compute_ratios(timings: dict,
                   memory: dict,
                   heda_ratios: Sequence[float],
                   heda_counts: dict,
                   batch_size: int,
                   stat: str = 'median_s') -> Tuple[dict, dict]:
    """Ratios of the report and the targets they are held against.

    ``stat`` picks the statistic of the step times: ``'median_s'`` (the
    reported one) or ``'min_s'`` (the least disturbed step, printed for
    reference on a shared machine).
    """

    def med(name):
        return timings[name][stat]

    limit = med('student') + med('teacher')
    ratios = OrderedDict()
    ratios['limit_s'] = limit
    ratios['kd_over_limit'] = med('kd') / limit
    ratios['energykd_over_limit'] = med('energykd') / limit
    ratios['energykd_over_kd'] = med('energykd') / med('kd')
    ratios['energy_logic_overhead_s'] = med('energykd_loss') - med('kd_loss')
    ratios['energy_logic_overhead_over_kd_step'] = ratios[
        'energy_logic_overhead_s'] / med('kd')
    heda = OrderedDict()
    for ratio in heda_ratios:
        name = f'heda@{ratio:g}'
        k = heda_counts[ratio]
        extra = 0.0
        if k >= 2:
            teacher_k = med('teacher') if k == batch_size else med(
                f'teacher@{k}')
            extra = med(f'student_fb@{k}') + teacher_k
        predicted = med('energykd') + extra
        heda[f'{ratio:g}'] = OrderedDict(
            selected=k,
            step_s=med(name),
            over_kd=med(name) / med('kd'),
            predicted_over_kd=predicted / med('kd'),
            linear_predicted_over_kd=(med('energykd') + ratio * limit) /
            med('kd'),
            over_predicted=med(name) / predicted)
    ratios['heda'] = heda
    ratios['calibration_over_teacher_eval'] = med('teacher_eval') / med(
        'calibration')  # same images per pass: throughput ratio
    if memory:
        mem_limit = memory['student']['peak_bytes'] + memory['teacher'][
            'peak_bytes']
        ratios['memory_limit_bytes'] = mem_limit
        ratios['kd_memory_over_limit'] = memory['kd']['peak_bytes'] / \
            mem_limit
        ratios['energykd_memory_over_limit'] = memory['energykd'][
            'peak_bytes'] / mem_limit
    targets = OrderedDict()
    for key, (op, bound) in TARGETS.items():
        if key == 'heda_over_predicted':
            for ratio, values in heda.items():
                value = values['over_predicted']
                targets[f'heda@{ratio}_over_predicted'] = dict(
                    value=value,
                    target=f'1 +- {bound:g}',
                    met=abs(value - 1) <= bound)
            continue
        if key not in ratios:
            continue
        value = ratios[key]
        met = value <= bound if op == '<=' else value >= bound
        targets[key] = dict(value=value, target=f'{op} {bound:g}', met=met)
    return ratios, targets


# ----------------------------------------------------------------------
# memory probes (one fresh process per variant)


def _proc_status_kb(field: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split(':', 1)[1].split()[0])
    except (OSError, ValueError):
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset the process's peak RSS (``VmHWM``) to its current RSS (Linux:
    ``echo 5 > /proc/self/clear_refs``), so that the peak of what runs next
    is not hidden by an earlier one (importing the libraries peaks higher
    than a small variant does)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        return False
    return _proc_status_kb('VmHWM') is not None


def _rss_bytes() -> int:
    value = _proc_status_kb('VmRSS')
    if value is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return value * 1024


def _peak_rss_bytes() -> int:
    value = _proc_status_kb('VmHWM')
    if value is None:  # Linux reports ru_maxrss in kilobytes
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return value * 1024


def run_probe_subprocess(settings: BenchSettings, variant: str,
                         thresholds: dict) -> dict:
    import mmenergykd
    root = osp.dirname(osp.dirname(osp.abspath(mmenergykd.__file__)))
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [root] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    spec = json.dumps(
        dict(
            settings=settings.to_dict(),
            variant=variant,
            thresholds=thresholds))
    proc = subprocess.run([
        sys.executable, '-c',
        'from mmenergykd.utils.benchmark import probe_main; probe_main()', spec
    ],
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=1800)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f'memory probe {variant} failed '
                           f'(exit {proc.returncode}):\n{proc.stderr[-3000:]}')
    return json.loads(lines[-1])


def _warm_cpu_kernels() -> None:
    """Load the convolution / optimizer code paths before the baseline, so
    their code pages are not counted as a variant's memory."""
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for memory_format in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(2, 3, 8, 8).contiguous(memory_format=memory_format)
        net(x).logsumexp(1).mean().backward()
        opt.step()
        with torch.no_grad():
            net.eval()(x)
        net.train()


def probe(spec: dict) -> dict:
    """Peak memory of one variant, in this (fresh) process."""
    import gc

    from mmenergykd.engine.calibration import calibrate_energy
    from mmenergykd.models.augments import HighEnergyAugment
    from mmenergykd.utils import register_all_modules
    register_all_modules()
    _quiet_logs()
    settings = BenchSettings(**spec['settings'])
    if settings.threads:
        torch.set_num_threads(settings.threads)
    variant = spec['variant']
    thresholds = spec['thresholds']
    device = torch.device(settings.device)
    setup = load_setup(settings)
    batch_size, img_size = setup['batch_size'], setup['img_size']
    torch.backends.cudnn.benchmark = bool(setup['cudnn_benchmark'])
    torch.manual_seed(settings.seed)
    clock = _Clock(device)
    calib_batches = settings.calib_batches or max(3, settings.iters // 2)
    num_images = batch_size * (
        calib_batches if variant in ('calibration', 'teacher_eval') else 1)
    images, labels = synthetic_images(num_images, img_size,
                                      setup['num_classes'], settings.seed)
    data = make_batch(images[:batch_size], labels[:batch_size],
                      setup['collate'])

    def amp():
        return amp_context(settings, device)

    if device.type == 'cpu':
        _warm_cpu_kernels()
    gc.collect()
    peak_reset = device.type == 'cpu' and _reset_peak_rss()
    baseline = _rss_bytes() if device.type == 'cpu' else 0
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        baseline = torch.cuda.memory_allocated(device)

    steps = 2  # the first one allocates lazily created state
    if variant in ('student', 'teacher', 'teacher_eval'):
        parts = Parts(
            setup, student=variant == 'student', teacher=variant
            != 'student').to(device)
        parts.data_preprocessor.to(device)  # it tracks its own device
        if variant == 'student':
            parts.train()
            wrapper = build_optim_wrapper(parts, setup, settings, device)
            for _ in range(steps):
                clock.time(lambda: student_step(parts, data, wrapper))
        elif variant == 'teacher':
            inputs = parts.data_preprocessor(data, False)['inputs']
            for _ in range(steps):
                clock.time(lambda: teacher_forward(parts, inputs, amp))
        else:
            loader = torch.utils.data.DataLoader(
                _Dataset(images, labels),
                batch_size=batch_size,
                collate_fn=_collate_fn(setup['collate']))
            for batch in loader:
                pre = parts.data_preprocessor(batch, False)
                with torch.no_grad(), amp():
                    parts.teacher(parts._format(pre['inputs']), mode='tensor')
    else:
        model = build_distiller(setup, device)
        wrapper = build_optim_wrapper(model, setup, settings, device)
        model.set_distill_losses(
            _variant_losses(setup, model,
                            'plain' if variant == 'kd' else 'energy'))
        for name, (low, high) in thresholds['energy'].items():
            if name in model.distill_losses:
                model.distill_losses[name].set_thresholds(low, high)
        if variant == 'calibration':
            loader = torch.utils.data.DataLoader(
                _Dataset(images, labels),
                batch_size=batch_size,
                collate_fn=_collate_fn(setup['collate']))
            calibrate_energy(
                SimpleNamespace(
                    model=model,
                    train_dataloader=loader,
                    optim_wrapper=wrapper,
                    seed=settings.seed))
        else:
            if variant.startswith('heda@'):
                ratio = float(variant.split('@')[1])
                module = HighEnergyAugment(
                    high_ratio=min(max(ratio, 0.0), 1.0),
                    seed=settings.seed,
                    **setup['heda']).to(device)
                module.set_thresholds(
                    float('-inf'), thresholds['heda'][f'{ratio:g}'])
                model.high_energy_augment = module
            for _ in range(steps):
                clock.time(lambda: distill_step(model, data, wrapper))
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated(device)
        method = 'torch.cuda.max_memory_allocated (includes weights and ' \
            'optimizer state of the variant)'
    else:
        peak = _peak_rss_bytes() - baseline
        method = ('peak RSS (VmHWM, reset after imports and warm-up)' if
                  peak_reset else 'peak RSS (ru_maxrss: may include the '
                  'import-time peak)') + ' minus the RSS before building ' \
            'the variant'
    return dict(
        variant=variant,
        peak_bytes=int(peak),
        baseline_bytes=int(baseline),
        method=method)


def probe_main() -> None:
    spec = json.loads(sys.argv[-1])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        result = probe(spec)
    print(json.dumps(result), flush=True)


# ----------------------------------------------------------------------
# report


def _mb(num_bytes: float) -> str:
    return f'{num_bytes / 2**20:.0f}'


def format_report(report: dict) -> str:
    """The printed table and ratios."""
    lines = []
    env = report['environment']
    if report.get('command'):
        lines.append(f"Command: {report['command']}")
    where = env.get('gpu') or (
        f"{env['cpu']}, {env['torch_threads']} threads, OMP_WAIT_POLICY="
        f"{env.get('omp_wait_policy')}")
    lines.append(f"Config: {report['config']}")
    lines.append(
        f"Device: {report['device']} ({where}); torch {env['torch']}; "
        f"batch {report['batch_size']} at {report['img_size']} px; "
        f"median of {report['settings']['iters']} steps after "
        f"{report['settings']['warmup']} warm-up rounds")
    if env.get('load_average'):
        lines.append('Load average (1/5/15 min) at start: ' +
                     ' / '.join(f'{v:.2f}'
                                for v in env['load_average_start']) +
                     '; at end: ' + ' / '.join(f'{v:.2f}'
                                               for v in env['load_average']) +
                     f" ({env['cpu_count']} CPUs)")
    fast = report['fast_paths']
    lines.append('Fast paths: ' + ', '.join(f'{k}={v}'
                                            for k, v in fast.items()))
    if report['settings']['teacher_ckpt'] is None:
        lines.append('Teacher: random weights (no --teacher-ckpt)')
    labels = report['labels']
    names = dict(
        student='student step alone',
        teacher='teacher forward alone',
        kd=f"{labels['kd']} step",
        energykd=f"{labels['energykd']} step",
        calibration='calibration pass (ms per pass)',
        teacher_eval='plain teacher inference (ms per pass)',
        kd_loss=f"{labels['kd']} loss only (fwd+bwd)",
        energykd_loss=f"{labels['energykd']} loss + group shares only")
    rows = []
    for name, stats in report['timings'].items():
        label = names.get(name)
        if label is None and name.startswith('heda@'):
            label = f"{labels['energykd']} + HE-DA, high_ratio " \
                    f"{name.split('@')[1]} " \
                    f"({report['heda_selected'][name.split('@')[1]]['expected']}" \
                    f" mixed)"
        elif label is None and name.startswith('student_fb@'):
            label = f"student fwd+bwd on {name.split('@')[1]} images"
        elif label is None and name.startswith('teacher@'):
            label = f"teacher forward on {name.split('@')[1]} images"
        mem = report['memory'].get(name)
        rows.append(
            (name, label,
             f"{stats['median_s'] * 1e3:.2f}", f"{stats['images_per_s']:.1f}",
             _mb(mem['peak_bytes']) if mem else '-'))
    timer = report['settings'].get('timer', 'wall')
    header = ('variant', 'what',
              'median ms' + (' (CPU time)' if timer == 'process' else ''),
              'images/s', 'peak MiB')
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(5)]
    fmt = '  '.join('{:<%d}' % w if i < 2 else '{:>%d}' % w
                    for i, w in enumerate(widths))
    lines.append('')
    lines.append(fmt.format(*header))
    lines.append('  '.join('-' * w for w in widths))
    lines.extend(fmt.format(*r) for r in rows)
    ratios = report['ratios']
    lines.append('')
    lines.append(f"Limit = student step + teacher forward = "
                 f"{ratios['limit_s'] * 1e3:.2f} ms")
    lines.append(f"{labels['kd']} step / limit          = "
                 f"{ratios['kd_over_limit']:.3f}")
    lines.append(f"{labels['energykd']} step / limit   = "
                 f"{ratios['energykd_over_limit']:.3f}")
    lines.append(f"{labels['energykd']} / {labels['kd']} step       = "
                 f"{ratios['energykd_over_kd']:.3f}")
    lines.append(
        f"Energy logic alone (loss-only difference) = "
        f"{ratios['energy_logic_overhead_s'] * 1e3:.3f} ms = "
        f"{100 * ratios['energy_logic_overhead_over_kd_step']:.3f} % of the "
        f"{labels['kd']} step")
    lines.append('HE-DA (predicted = Energy KD step + student fwd+bwd(k) + '
                 'teacher fwd(k), k mixed images):')
    for ratio, values in ratios['heda'].items():
        lines.append(
            f"  high_ratio {ratio:>4}: k={values['selected']:<3} "
            f"step/{labels['kd']} = {values['over_kd']:.3f}, predicted "
            f"{values['predicted_over_kd']:.3f} (linear "
            f"{values['linear_predicted_over_kd']:.3f}), measured/predicted "
            f"= {values['over_predicted']:.3f}")
    lines.append(f"Calibration / plain teacher inference (images/s) = "
                 f"{ratios['calibration_over_teacher_eval']:.3f}")
    if 'energykd_memory_over_limit' in ratios:
        mem = report['memory']
        lines.append(
            f"Memory limit = student step peak + teacher inference peak = "
            f"{_mb(mem['student']['peak_bytes'])} + "
            f"{_mb(mem['teacher']['peak_bytes'])} MiB "
            f"({next(iter(mem.values()))['method']})")
        lines.append(f"{labels['kd']} peak / limit     = "
                     f"{ratios['kd_memory_over_limit']:.3f}")
        lines.append(f"{labels['energykd']} peak / limit = "
                     f"{ratios['energykd_memory_over_limit']:.3f}")
    lines.append('')
    lines.append('Targets (medians):')
    for key, target in report['targets'].items():
        lines.append(f"  {'MET ' if target['met'] else 'MISS'} {key} = "
                     f"{target['value']:.3f} (target {target['target']})")
    return '\n'.join(lines)


# ----------------------------------------------------------------------
# command line


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Speed and memory of KD, Energy KD, HE-DA and the '
        'calibration pass against the limit (student step + teacher '
        'forward), on synthetic data at the config\'s crop size.')
    parser.add_argument(
        'config',
        help='a distillation config, e.g. '
        'configs/energykd/res34_res18_in1k.py')
    parser.add_argument(
        '--device',
        default=None,
        help='cpu or cuda (default: cuda when available)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision through AmpOptimWrapper')
    parser.add_argument(
        '--amp-dtype', default='bfloat16', choices=['bfloat16', 'float16'])
    parser.add_argument(
        '--batch-size',
        type=int,
        default=None,
        help="default: the config's train batch size")
    parser.add_argument(
        '--img-size',
        type=int,
        default=None,
        help="default: the config's crop size (224)")
    parser.add_argument(
        '--iters',
        type=int,
        default=10,
        help='timed rounds (one step of each variant each)')
    parser.add_argument(
        '--warmup', type=int, default=2, help='untimed rounds first')
    parser.add_argument(
        '--teacher-ckpt',
        default=None,
        help='teacher weights (default: random teacher)')
    for flag in ('channels-last', 'teacher-inference-mode', 'compile-teacher',
                 'check-finite-teacher', 'cudnn-benchmark'):
        parser.add_argument(
            f'--{flag}',
            action=argparse.BooleanOptionalAction,
            default=None,
            help="default: the config's setting")
    parser.add_argument(
        '--heda-ratios',
        default='0,0.25,0.5,1.0',
        help='comma-separated HE-DA high_ratio sweep')
    parser.add_argument(
        '--calib-batches',
        type=int,
        default=None,
        help='batches per calibration pass (default '
        'max(3, iters // 2))')
    parser.add_argument(
        '--calib-passes',
        type=int,
        default=3,
        help='timed passes each of calibration and plain '
        'teacher inference (median)')
    parser.add_argument(
        '--loss-reps',
        type=int,
        default=20,
        help='repetitions per timing of the loss-only rows')
    parser.add_argument(
        '--no-memory',
        action='store_true',
        help='skip the memory probes (subprocesses)')
    parser.add_argument(
        '--memory-jobs',
        type=int,
        default=2,
        help='memory probes run at the same time (each is '
        'its own process; their timing does not matter)')
    parser.add_argument(
        '--timer',
        default='wall',
        choices=['wall', 'process'],
        help='wall clock (default), or the process\'s CPU '
        'time (CPU only: robust on a machine shared with '
        'other jobs)')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch.set_num_threads (CPU)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None, help='write the report here')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    settings = BenchSettings(
        config=args.config,
        device=device,
        amp=args.amp,
        amp_dtype=args.amp_dtype,
        batch_size=args.batch_size,
        img_size=args.img_size,
        iters=args.iters,
        warmup=args.warmup,
        teacher_ckpt=args.teacher_ckpt,
        channels_last=args.channels_last,
        teacher_inference_mode=args.teacher_inference_mode,
        compile_teacher=args.compile_teacher,
        check_finite_teacher=args.check_finite_teacher,
        heda_ratios=[float(r) for r in args.heda_ratios.split(',') if r],
        calib_batches=args.calib_batches,
        memory=not args.no_memory,
        cudnn_benchmark=args.cudnn_benchmark,
        loss_reps=args.loss_reps,
        calib_passes=args.calib_passes,
        timer=args.timer,
        memory_jobs=args.memory_jobs,
        threads=args.threads,
        seed=args.seed)
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', category=UserWarning)
        warnings.filterwarnings('ignore', category=FutureWarning)
        report = run_benchmark(settings)
    report['command'] = ' '.join(['python', 'tools/benchmark_speed.py'] +
                                 list(sys.argv[1:] if argv is None else argv))
    print(format_report(report), flush=True)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2, default=str)
    return report
