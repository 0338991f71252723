# Copyright (c) mmenergykd contributors. All rights reserved.
"""Export a distilled student as a plain MMPretrain checkpoint."""
import os
import os.path as osp
import time
from collections import OrderedDict
from typing import Any, Dict, List, Union

import torch
from mmengine.config import Config

from mmenergykd.utils.checkpoint import load_local_checkpoint

__all__ = [
    'export_student', 'student_config', 'student_config_path',
    'registering_modules'
]


def student_config(config: Union[str, Config]) -> Config:
    """A plain MMPretrain config for the student of a distillation config.

    The student's model dict plus the run's ``data_preprocessor`` and data /
    evaluation settings, so that ``mmpretrain.get_model(cfg, pretrained=OUT)``
    and MMPretrain's inferencers can use it.

    Args:
        config (str | Config): The distillation config.

    Returns:
        Config: ``model`` is the student (an ``ImageClassifier`` dict).
        When the student or the kept data settings use components that
        mmenergykd registers (e.g. the ``CifarResNet`` backbones, the
        ``SklearnDigits`` dataset), ``custom_imports`` names the mmenergykd
        modules that register them, so that a plain MMPretrain process
        (``mmpretrain.get_model``, ``ImageClassificationInferencer``) loads
        the config without importing mmenergykd itself.
    """
    from mmenergykd.models.utils import resolve_model_cfg
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if cfg.model.get('type') != 'EnergyKDDistiller':
        raise ValueError('export_student expects an EnergyKDDistiller '
                         f"config, got model type {cfg.model.get('type')!r}.")
    student = resolve_model_cfg(cfg.model.student, 'student')
    out = Config(dict(model=student.to_dict()))
    for key in ('data_preprocessor', 'test_dataloader', 'test_evaluator',
                'val_dataloader', 'val_evaluator', 'default_scope'):
        if key in cfg:
            out[key] = cfg[key]
    imports = registering_modules(out.to_dict())
    if imports:
        out['custom_imports'] = dict(
            imports=imports, allow_failed_imports=False)
    return out


def registering_modules(cfg: Any) -> List[str]:
    """The mmenergykd modules that register the ``type`` s used in ``cfg``.

    Args:
        cfg: A config dict (searched recursively, lists included).

    Returns:
        list[str]: Sorted subpackages such as ``'mmenergykd.models'``;
        empty when every type is MMPretrain's / MMEngine's own.
    """
    import mmenergykd.datasets  # noqa: F401  (register before looking up)
    import mmenergykd.models  # noqa: F401
    from mmenergykd.registry import DATASETS, MODELS, TRANSFORMS
    ours: Dict[str, str] = {}
    for registry in (MODELS, DATASETS, TRANSFORMS):
        for name, obj in registry.module_dict.items():
            module = getattr(obj, '__module__', '') or ''
            if module.startswith('mmenergykd.'):
                ours[name] = '.'.join(module.split('.')[:2])
    found = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            kind = node.get('type')
            if isinstance(kind, str) and kind.split('.')[-1] in ours:
                found.add(ours[kind.split('.')[-1]])
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(cfg)
    return sorted(found)


def export_student(config: Union[str, Config], checkpoint: str,
                   out: str) -> str:
    """Write the student's weights in the OpenMMLab checkpoint layout.

    Also writes the student's plain MMPretrain config next to it
    (``OUT`` without extension + ``_config.py``), for
    ``mmpretrain.get_model(that_config, pretrained=OUT)`` and inferencers.

    Args:
        config (str | Config): The distillation config (for the student
            architecture, saved with the weights as ``meta['config']``).
        checkpoint (str): A training checkpoint of an ``EnergyKDDistiller``.
        out (str): The output path.

    Returns:
        str: ``out``.
    """
    if isinstance(config, str) and not osp.isfile(config):
        raise FileNotFoundError(
            f'CONFIG {config!r} does not exist. Pass the distillation config '
            'the checkpoint was trained with.')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'CHECKPOINT {checkpoint!r} does not exist. Pass a training '
            'checkpoint of the run (e.g. work_dirs/<config>/epoch_N.pth).')
    if osp.isdir(out):
        raise IsADirectoryError(
            f'OUT {out!r} is a directory. Pass the file to write, e.g. '
            f'{osp.join(out, "student.pth")!r}.')
    ckpt = load_local_checkpoint(checkpoint, map_location='cpu')
    state_dict = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) \
        else None
    if not isinstance(state_dict, dict):
        raise ValueError(f'{checkpoint!r} holds no state dict.')
    prefix = 'student.'
    student = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                          if k.startswith(prefix))
    if not student:
        raise ValueError(
            f'{checkpoint!r} is not an EnergyKDDistiller training checkpoint '
            '(no `student.` keys); it may already be a plain MMPretrain '
            'checkpoint, which needs no export.')
    cfg = student_config(config)
    _check_student_fits(cfg, student, checkpoint)
    meta = dict(
        exported_from=osp.abspath(checkpoint),
        time=time.strftime('%Y%m%d_%H%M%S'),
        config=cfg.pretty_text,
        config_file=osp.basename(student_config_path(out)))
    # MMPretrain's get_model reads `dataset_meta` (class names) when the key
    # is there and falls back to the test dataset's METAINFO when it is not;
    # a `None` value would make it fail, so the key is left out instead.
    dataset_meta = (ckpt.get('meta') or {}).get('dataset_meta')
    if dataset_meta:
        meta['dataset_meta'] = dataset_meta
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    tmp = out + '.tmp'
    try:
        torch.save(dict(meta=meta, state_dict=student), tmp)
        os.replace(tmp, out)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    cfg.dump(student_config_path(out))
    return out


def _check_student_fits(cfg: Config, student: dict, checkpoint: str) -> None:
    """The config's student must take the checkpoint's weights exactly."""
    from mmenergykd.models.utils import build_classifier
    from mmenergykd.models.utils.teacher_checkpoint import compare_state_dicts
    model = build_classifier(cfg.model, 'student')
    problems = compare_state_dicts(model.state_dict(), student)
    if problems:
        raise ValueError(
            f"The student in {checkpoint!r} does not match `model.student` "
            'of CONFIG (another architecture or `num_classes`); the exported '
            'weights would not load into the exported config. Pass the '
            'config the checkpoint was trained with:\n  ' +
            '\n  '.join(problems))


def student_config_path(out: str) -> str:
    """Where :func:`export_student` writes the student's plain config."""
    return osp.splitext(out)[0] + '_config.py'
