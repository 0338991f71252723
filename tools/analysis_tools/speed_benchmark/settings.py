# Copyright (c) mmenergykd contributors. All rights reserved.
"""What the speed benchmark measures: its settings, targets and what it
takes from the config."""
import copy
from collections import OrderedDict
from types import SimpleNamespace
from typing import Optional, Tuple

from mmenergykd.utils import config_type_name

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
    ('bank_over_student', ('<=', 1.10)),
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
        seed=0,
        bank=True,
        bank_crops=8,
        bank_topk=10,
        bank_dtype='fp16',
        bank_build_views=1)

    def __init__(self, **kwargs):
        values = dict(self.DEFAULTS)
        unknown = set(kwargs) - set(values)
        if unknown:
            raise TypeError(f'unknown settings {sorted(unknown)}')
        values.update(kwargs)
        values['heda_ratios'] = [float(r) for r in values['heda_ratios']]
        super().__init__(**values)

    def to_dict(self) -> dict:
        """The settings as a plain dict (the report's ``settings``)."""
        return {k: getattr(self, k) for k in self.DEFAULTS}


def derive_losses(distill_losses: dict) -> Tuple[dict, dict, str, str]:
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


def crop_size(cfg) -> Optional[int]:
    """The crop size of the config's training pipeline (None if none)."""
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


def _heda_settings(cfg, energy_cfg: dict) -> dict:
    """HE-DA's settings: Energy KD's temperature and weight, overridden by
    the config's ``HighEnergyAugmentHook``."""
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
    return heda


def _model_cfg(cfg, settings: BenchSettings) -> dict:
    """The distiller's config with the benchmark's teacher and fast paths."""
    model_cfg = copy.deepcopy(cfg.model.to_dict())
    model_cfg['teacher_ckpt'] = settings.teacher_ckpt
    teacher_settings = dict(model_cfg.get('teacher_settings') or {})
    # Timing needs no trained teacher: random weights cost the same.
    teacher_settings['allow_random'] = settings.teacher_ckpt is None
    if model_cfg.get('data_preprocessor') is None \
            and cfg.get('data_preprocessor') is not None:
        # as MMEngine's Runner does
        model_cfg['data_preprocessor'] = cfg.data_preprocessor.to_dict()
    if settings.channels_last is not None:
        model_cfg['channels_last'] = settings.channels_last
    for flag, key in (('teacher_inference_mode', 'inference_mode'),
                      ('compile_teacher', 'compile'), ('check_finite_teacher',
                                                       'check_finite')):
        if getattr(settings, flag) is not None:
            teacher_settings[key] = getattr(settings, flag)
    model_cfg['teacher_settings'] = teacher_settings
    return model_cfg


def load_setup(settings: BenchSettings) -> dict:
    """Everything the benchmark needs from the config."""
    from mmengine.config import Config
    cfg = Config.fromfile(settings.config)
    model_cfg = _model_cfg(cfg, settings)
    plain, energy, plain_label, energy_label = derive_losses(
        model_cfg.get('distill_losses') or {})
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
        heda=_heda_settings(cfg, next(iter(energy.values()))),
        collate=collate,
        optim_wrapper=optim,
        img_size=settings.img_size or crop_size(cfg) or 224,
        batch_size=settings.batch_size or loader.get('batch_size') or 32,
        num_classes=int(num_classes),
        pipeline=list((loader.get('dataset') or {}).get('pipeline') or []),
        max_epochs=(cfg.get('train_cfg') or {}).get('max_epochs'),
        cudnn_benchmark=env.get('cudnn_benchmark', False)
        if settings.cudnn_benchmark is None else settings.cudnn_benchmark)
