# Copyright (c) mmenergykd contributors. All rights reserved.
"""What the energy analysis reads: the distiller, a checkpoint, a split.

Every refusal names the setting and the fix: a config without a distiller,
a checkpoint of another teacher (or of another student, or a plain
classifier), thresholds computed for other energy settings, an empty split,
a teacher bank that does not fit the config.
"""
import copy
import os.path as osp
from typing import Optional, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

from mmenergykd.datasets import innermost_dataset
from mmenergykd.datasets.transforms import recording_pipeline
from mmenergykd.models.augments import HighEnergyAugment
from mmenergykd.models.distillers import EnergyKDDistiller
from mmenergykd.models.energy import EnergyConsumer
from mmenergykd.models.teacher_bank import TeacherBank
from mmenergykd.registry import DATASETS, MODELS
from mmenergykd.utils import config_type_name, register_all_modules

__all__ = [
    'SPLITS', 'load_analysis_config', 'build_analysis_model',
    'load_training_checkpoint', 'analysis_consumer', 'build_split_dataset',
    'attach_teacher_bank'
]

#: ``--split`` -> the config's dataloader.
SPLITS = {'train': 'train_dataloader', 'val': 'val_dataloader'}


def load_analysis_config(config, cfg_options: Optional[dict] = None) -> Config:
    """The config (a path or a ``Config``), with ``--cfg-options`` merged.

    Args:
        config (str | Config): The config file or object.
        cfg_options (dict, optional): Overrides, as ``--cfg-options``.

    Returns:
        Config: A copy, registries set up (scope ``mmpretrain``).
    """
    register_all_modules(init_default_scope=False)
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
    else:
        if not osp.isfile(config):
            raise FileNotFoundError(f'Config file {config!r} does not exist.')
        cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def _scope(cfg: Config) -> str:
    return cfg.get('default_scope', None) or 'mmpretrain'


def build_analysis_model(cfg: Config, device: str) -> EnergyKDDistiller:
    """Build the config's distiller (teacher loaded), in eval mode.

    Args:
        cfg (Config): A distillation config.
        device (str): ``'cpu'``, ``'cuda'``, ...

    Returns:
        EnergyKDDistiller: The model on ``device``.

    Raises:
        ValueError: The config's model is not an ``EnergyKDDistiller``.
    """
    model_cfg = copy.deepcopy(cfg.get('model'))
    kind = model_cfg.get('type') if isinstance(model_cfg, dict) else None
    if kind is None or str(kind).split('.')[-1] != 'EnergyKDDistiller':
        raise ValueError(
            f"The config's `model.type` is {kind!r}, not "
            "'EnergyKDDistiller': the energy analysis needs the teacher of a "
            'distillation config. Pass a distillation config (e.g. '
            'configs/energykd/...), whose `model.teacher` / '
            '`model.teacher_ckpt` name the teacher.')
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    with DefaultScope.overwrite_default_scope(_scope(cfg)):
        model = MODELS.build(model_cfg)
    if not isinstance(model, EnergyKDDistiller):
        raise ValueError(
            f"`model.type={kind!r}` built a {type(model).__name__}, not an "
            'EnergyKDDistiller; the energy analysis needs a distiller.')
    _attach_heda(cfg, model)
    return model.to(device).eval()


def _attach_heda(cfg: Config, model: EnergyKDDistiller) -> None:
    """HE-DA as its hook attaches it in training (its thresholds are then
    read from a checkpoint; a KD + HE-DA config is split by HE-DA's)."""
    for hook in cfg.get('custom_hooks', None) or []:
        if config_type_name(hook) != 'HighEnergyAugmentHook':
            continue
        settings = {
            k: v
            for k, v in dict(hook).items()
            if k not in ('type', 'epochs', 'seed', 'priority', '_scope_')
        }
        model.high_energy_augment = HighEnergyAugment(**settings)


def load_training_checkpoint(model: EnergyKDDistiller, path: str) -> bool:
    """Load a training checkpoint of this config's distiller.

    Args:
        model (EnergyKDDistiller): The distiller built from the config.
        path (str): The checkpoint (``epoch_N.pth`` of a training run).

    Returns:
        bool: Whether it holds calibrated thresholds for the analysed
        consumer (:func:`analysis_consumer`).

    Raises:
        ValueError: A checkpoint of another teacher, another student, a
            plain classifier, or thresholds calibrated for other settings.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'--checkpoint {path!r} does not exist. Pass a training '
            'checkpoint of this config (work_dirs/<config>/epoch_N.pth).')
    load_checkpoint(model, path, map_location='cpu', strict=False)
    try:
        # A checkpoint trained with another teacher: its thresholds (and
        # student) belong to that teacher.
        model.check_checkpoint_compatibility()
    except ValueError as err:
        raise ValueError(
            f'--checkpoint {path!r} was not trained with this config\'s '
            f'teacher, so its energy thresholds do not apply: {err}') from err
    consumer, _ = analysis_consumer(model)
    change = consumer.calibration_settings_change()
    if change:
        raise ValueError(
            f'The thresholds in --checkpoint {path!r} were calibrated for '
            f'other energy settings than the config has ({change}; '
            'checkpoint -> config). Analyse with the config the checkpoint '
            'was trained with, or leave out --checkpoint to split by the '
            "config's own threshold rule.")
    return consumer.is_calibrated


def analysis_consumer(model: EnergyKDDistiller
                      ) -> Tuple[EnergyConsumer, Optional[str]]:
    """The consumer whose ``T_E``, ratios and thresholds define the groups.

    The distiller's energy loss (as the training log's
    ``energy_low/mid/high``), else its first energy consumer; a config
    without one (KD, DKD, MLKD) is analysed with the Energy KD defaults
    (``T_E`` 4, ratios 0.2 / 0.2).

    Args:
        model (EnergyKDDistiller): The distiller.

    Returns:
        tuple: ``(consumer, name)``; name None for the defaults.
    """
    consumers = model.energy_consumers()
    loss = model.energy_loss()
    for name, consumer in consumers.items():
        if consumer is loss:
            return consumer, name
    if consumers:
        return next(iter(consumers.values())), next(iter(consumers))
    return EnergyConsumer(), None


def build_split_dataset(cfg: Config, split: str):
    """The dataset of ``--split`` with the config's pipeline for it.

    ``train``: the training dataset with the training pipeline (the
    calibration pass's view of it); ``val``: the validation dataset with the
    test pipeline.

    Args:
        cfg (Config): The config.
        split (str): ``'train'`` or ``'val'``.

    Returns:
        tuple: ``(dataset, dataloader config)``.

    Raises:
        ValueError: An unknown split, or one with no samples.
    """
    if split not in SPLITS:
        raise ValueError(
            f'--split must be one of {sorted(SPLITS)}, got {split!r}.')
    key = SPLITS[split]
    loader_cfg = cfg.get(key)
    if not loader_cfg or 'dataset' not in loader_cfg:
        raise ValueError(f'The config has no `{key}.dataset` for --split '
                         f'{split}: add one or pick the other split.')
    dataset_cfg = copy.deepcopy(loader_cfg.dataset)
    with DefaultScope.overwrite_default_scope(_scope(cfg)):
        dataset = DATASETS.build(dataset_cfg)
    if len(dataset) == 0:
        raise ValueError(
            f'The {split} split is empty: `{key}.dataset` '
            f"({dataset_cfg.get('type')}, data_root "
            f"{dataset_cfg.get('data_root')!r}) holds 0 samples. Check its "
            '`data_root`, `ann_file` / `split` and filters.')
    return dataset, loader_cfg


def attach_teacher_bank(cfg: Config, model: EnergyKDDistiller, dataset,
                        temperature: float) -> TeacherBank:
    """Read the training split's teacher logits from ``model.teacher_bank``.

    As ``TeacherBankHook`` does in training: the bank is opened checked
    against the config, the dataset's pipeline switched to its recording
    form (the same images, each recording its view), and the bank attached
    to the distiller.

    Args:
        cfg (Config): The config (``model.teacher_bank`` set).
        model (EnergyKDDistiller): The distiller.
        dataset: The training dataset (:func:`build_split_dataset`).
        temperature (float): ``T_E`` of the analysis (a sampled bank holds
            exact energies at one ``T_E`` only).

    Returns:
        TeacherBank: The attached bank.
    """
    inner = innermost_dataset(dataset)
    bank = TeacherBank.open(
        model.teacher_bank,
        expect=TeacherBank.expect_from_config(cfg, dataset_len=len(inner)))
    bank.check_energy_temperature(temperature)
    pipeline = cfg.train_dataloader.dataset.get('pipeline', [])
    if isinstance(pipeline, ConfigDict):
        pipeline = pipeline.to_dict()
    inner.pipeline = Compose(
        recording_pipeline(pipeline, **bank.recording_kwargs()))
    model.attach_teacher_bank(bank)
    return bank
