# Copyright (c) mmenergykd contributors. All rights reserved.
"""Convert CRD / mdistiller CIFAR-100 zoo checkpoints to MMPretrain models.

The library of ``tools/convert_mdistiller_ckpt.py``.

The CIFAR-100 teachers of CRD and mdistiller (``cifar_teachers.tar``) and
the students released with methods built on them (DKD, Energy KD, ...) are
``torch.save`` files of ``{'model': state_dict}`` in the zoo's key names.
This module renames those keys to the ``ImageClassifier`` built from
``configs/_base_/models/cifar100/<name>.py`` (``backbone.*`` and
``head.fc.*``) and checks the result strictly: every source tensor must land
on a target tensor of the same shape, and every target tensor must be
filled.
"""
import hashlib
import re
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple, Union

import torch

import mmenergykd
from mmenergykd.utils.checkpoint import fillable_bn_counter, safe_torch_load

__all__ = [
    'MDISTILLER_MODEL_NAMES', 'ConversionError', 'resolve_model_name',
    'default_config_path', 'build_model_from_config', 'extract_state_dict',
    'rename_mdistiller_key', 'convert_mdistiller_state_dict',
    'convert_mdistiller_checkpoint'
]

#: Zoo names with a config in ``configs/_base_/models/cifar100``.
MDISTILLER_MODEL_NAMES: Tuple[str,
                              ...] = ('resnet8', 'resnet14', 'resnet20',
                                      'resnet32', 'resnet44', 'resnet56',
                                      'resnet110', 'resnet8x4', 'resnet32x4',
                                      'wrn_16_1', 'wrn_16_2', 'wrn_40_1',
                                      'wrn_40_2', 'vgg8', 'vgg11', 'vgg13',
                                      'vgg16', 'vgg19', 'mobilenetv2',
                                      'shufflenetv1', 'shufflenetv2',
                                      'resnet50')

#: Other spellings used by the zoo (its ``cifar_model_dict`` keys and
#: constructor names) and by the released file names.
_ALIASES: Dict[str, str] = {
    'mobile_half': 'mobilenetv2',
    'MobileNetV2': 'mobilenetv2',
    'mv2': 'mobilenetv2',
    'ShuffleV1': 'shufflenetv1',
    'ShuffleV2': 'shufflenetv2',
    'ResNet50': 'resnet50',
    **{
        f'vgg{d}_bn': f'vgg{d}'
        for d in (8, 11, 13, 16, 19)
    },
}

# Per backbone type: the zoo's classifier prefix and regex renames applied
# to the remaining (backbone) keys before adding ``backbone.``.
_RULES: Dict[str, Tuple[str, List[Tuple[str, str]]]] = {
    'CifarResNet': ('fc.', []),
    'CifarWideResNet': ('fc.', [
        (r'^block(\d+)\.layer\.', r'layer\1.'),
        (r'\.convShortcut\.', '.shortcut.'),
        (r'^bn1\.', 'bn_out.'),
    ]),
    'CifarVGG': ('classifier.', []),
    'CifarMobileNetV2': ('classifier.0.', []),
    'CifarShuffleNetV1': ('linear.', []),
    'CifarShuffleNetV2': ('linear.', []),
    'CifarResNet50': ('linear.', []),
}

_MAX_LISTED = 40


class ConversionError(ValueError):
    """Raised when a checkpoint does not map 1:1 onto the target model."""


def resolve_model_name(name: str) -> str:
    """Map a zoo name or alias to the name of its config.

    Args:
        name (str): A name from :data:`MDISTILLER_MODEL_NAMES` or an alias
            such as ``'mobile_half'``, ``'ShuffleV2'`` or ``'vgg13_bn'``.

    Returns:
        str: The config name.

    Raises:
        ConversionError: If the name is unknown.
    """
    if name in MDISTILLER_MODEL_NAMES:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    raise ConversionError(f'Unknown model {name!r}. Choose one of: '
                          f'{", ".join(MDISTILLER_MODEL_NAMES)} '
                          f'(aliases: {", ".join(sorted(_ALIASES))}).')


def default_config_path(name: str) -> Path:
    """Locate ``configs/_base_/models/cifar100/<name>.py``.

    Looks in the source checkout (``<repo>/configs``) first, then in the
    installed package (``mmenergykd/.mim/configs``).

    Args:
        name (str): A zoo name or alias.

    Returns:
        Path: The config file.

    Raises:
        FileNotFoundError: If neither location has the config.
    """
    rel = Path('_base_', 'models', 'cifar100',
               f'{resolve_model_name(name)}.py')
    package_dir = Path(mmenergykd.__file__).resolve().parent
    candidates = [
        package_dir.parent / 'configs' / rel,
        package_dir / '.mim' / 'configs' / rel,
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f'Config for {name!r} not found; looked at '
        f'{", ".join(str(p) for p in candidates)}. Pass the config path.')


def build_model_from_config(config: Union[str, Path]) -> torch.nn.Module:
    """Build the ``model`` of an MMEngine config with MMPretrain's registry.

    Args:
        config (str | Path): Path of a config defining ``model``.

    Returns:
        torch.nn.Module: The model (randomly initialised, on the CPU).
    """
    import mmpretrain.models  # noqa: F401  (registers ImageClassifier etc.)
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    from mmenergykd.models import backbones  # noqa: F401

    cfg = Config.fromfile(str(config))
    return MODELS.build(cfg.model)


def extract_state_dict(checkpoint: Mapping,
                       prefix: str = '') -> 'OrderedDict[str, torch.Tensor]':
    """Get the state dict out of a loaded zoo checkpoint.

    Accepts ``{'model': sd}`` (the zoo's layout), ``{'state_dict': sd}`` and
    a bare state dict, and strips a ``module.`` prefix left by
    ``DataParallel``/``DistributedDataParallel``.

    Args:
        checkpoint (Mapping): The object returned by ``torch.load``.
        prefix (str): If given, keep only the keys starting with it and strip
            it, e.g. ``'student.'`` to take the student out of a full
            mdistiller distiller checkpoint. Applied after ``module.`` is
            stripped. Defaults to ``''``.

    Returns:
        OrderedDict[str, torch.Tensor]: The state dict.

    Raises:
        ConversionError: If no tensors are found.
    """
    state_dict = checkpoint
    for key in ('model', 'state_dict'):
        if isinstance(checkpoint, Mapping) and isinstance(
                checkpoint.get(key), Mapping):
            state_dict = checkpoint[key]
            break
    tensors = OrderedDict(
        (k, v) for k, v in state_dict.items() if isinstance(v, torch.Tensor))
    if not tensors:
        raise ConversionError(
            'No tensors found: expected {"model": state_dict}, '
            '{"state_dict": state_dict} or a bare state dict; top-level keys '
            f'are {list(checkpoint)[:10]}.')
    if all(k.startswith('module.') for k in tensors):
        tensors = OrderedDict(
            (k[len('module.'):], v) for k, v in tensors.items())
    if prefix:
        tensors = OrderedDict((k[len(prefix):], v) for k, v in tensors.items()
                              if k.startswith(prefix))
        if not tensors:
            raise ConversionError(f'No key starts with prefix {prefix!r}.')
    return tensors


def rename_mdistiller_key(key: str, backbone_type: str) -> str:
    """Rename one zoo key to the MMPretrain ``ImageClassifier`` key.

    Args:
        key (str): A key of the zoo's state dict, e.g. ``'layer1.0.conv1.
            weight'`` or ``'fc.bias'``.
        backbone_type (str): The registered backbone type, e.g.
            ``'CifarResNet'``.

    Returns:
        str: The target key, e.g. ``'backbone.layer1.0.conv1.weight'`` or
        ``'head.fc.bias'``.
    """
    if backbone_type not in _RULES:
        raise ConversionError(
            f'No mdistiller key mapping for backbone type {backbone_type!r}; '
            f'supported: {", ".join(sorted(_RULES))}.')
    head_prefix, renames = _RULES[backbone_type]
    if key.startswith(head_prefix):
        return 'head.fc.' + key[len(head_prefix):]
    for pattern, repl in renames:
        key = re.sub(pattern, repl, key)
    return 'backbone.' + key


def _listing(title: str, items: List[str]) -> str:
    shown = items[:_MAX_LISTED]
    more = len(items) - len(shown)
    lines = [f'{title} ({len(items)}):'] + [f'  {s}' for s in shown]
    if more:
        lines.append(f'  ... and {more} more')
    return '\n'.join(lines)


def _mismatch_message(model_name: str, backbone_type: str, config: Union[str,
                                                                         Path],
                      state_dict: Mapping[str, torch.Tensor],
                      target: Mapping[str, torch.Tensor],
                      unexpected: List[str], missing: List[str],
                      mismatched: List[str], duplicated: List[str]) -> str:
    """The error message of a checkpoint that does not map 1:1 (every
    offending key listed, and a hint for full distiller checkpoints)."""
    parts = [
        f'The checkpoint does not match model {model_name!r} '
        f'({backbone_type}, config {config}): '
        f'{len(state_dict)} source tensors, {len(target)} target tensors.'
    ]
    if unexpected:
        parts.append(_listing('Source keys without a target', unexpected))
    if missing:
        parts.append(_listing('Target keys not filled', missing))
    if mismatched:
        parts.append(_listing('Shape mismatches', mismatched))
    if duplicated:
        parts.append(_listing('Source keys mapped twice', duplicated))
    parts.append('Check that --model names the architecture the '
                 'checkpoint was trained with.')
    heads = sorted({k.split('.', 1)[0] for k in state_dict if '.' in k})
    if {'student', 'teacher'} & set(heads):
        parts.append('The keys start with ' + ', '.join(f'`{h}.`'
                                                        for h in heads) +
                     ': this looks like a full '
                     'distiller checkpoint; pass --prefix student. (or '
                     'teacher.) to convert one of its networks.')
    return '\n'.join(parts)


def convert_mdistiller_state_dict(state_dict: Mapping[str, torch.Tensor],
                                  model_name: str,
                                  config: Optional[Union[str, Path]] = None
                                  ) -> 'OrderedDict[str, torch.Tensor]':
    """Rename a zoo state dict to the keys of the MMPretrain model.

    Args:
        state_dict (Mapping[str, torch.Tensor]): The zoo's state dict
            (already taken out of ``{'model': ...}``; see
            :func:`extract_state_dict`).
        model_name (str): Zoo name or alias, e.g. ``'wrn_16_2'``.
        config (str | Path, optional): Model config to convert to. Defaults
            to ``configs/_base_/models/cifar100/<model_name>.py``.

    Returns:
        OrderedDict[str, torch.Tensor]: A state dict that loads into the
        model with ``strict=True``, in the model's key order.

    Raises:
        ConversionError: If a source key has no target, a target key gets no
            tensor, two source keys map to one target, or shapes differ. The
            message lists the offending keys.
    """
    if config is None:
        config = default_config_path(model_name)
    model = build_model_from_config(config)
    backbone_type = type(model.backbone).__name__
    target = model.state_dict()

    renamed: Dict[str, str] = {}
    unexpected, duplicated, mismatched = [], [], []
    mismatched_targets = set()
    converted: Dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new_key = rename_mdistiller_key(key, backbone_type)
        if new_key not in target:
            unexpected.append(f'{key} (-> {new_key})')
        elif new_key in renamed:
            duplicated.append(f'{key} and {renamed[new_key]} -> {new_key}')
        elif tuple(value.shape) != tuple(target[new_key].shape):
            mismatched.append(f'{key} {tuple(value.shape)} -> {new_key} '
                              f'{tuple(target[new_key].shape)}')
            mismatched_targets.add(new_key)
        else:
            renamed[new_key] = key
            converted[new_key] = value
    missing = [
        k for k in target if k not in renamed and k not in mismatched_targets
    ]
    # PyTorch < 0.4.1 checkpoints lack BatchNorm `num_batches_tracked`;
    # filled with 0, as PyTorch's own loading does.
    for key in [k for k in missing if fillable_bn_counter(k, renamed)]:
        converted[key] = torch.zeros_like(target[key])
        renamed[key] = '(filled: 0)'
        missing.remove(key)
    if unexpected or missing or duplicated or mismatched:
        raise ConversionError(
            _mismatch_message(model_name, backbone_type, config, state_dict,
                              target, unexpected, missing, mismatched,
                              duplicated))
    return OrderedDict((k, converted[k]) for k in target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def convert_mdistiller_checkpoint(src: Union[str, Path],
                                  dst: Union[str, Path],
                                  model_name: str,
                                  config: Optional[Union[str, Path]] = None,
                                  prefix: str = '') -> dict:
    """Convert a zoo checkpoint file and save it in the OpenMMLab layout.

    The source is read with ``torch.load(..., weights_only=True)`` onto the
    CPU. The output is ``{'meta': {...}, 'state_dict': {...}}``; its meta
    carries the CIFAR-100 class names (``dataset_meta``), the model name,
    the config and the source file's SHA-256. It loads with
    ``weights_only=True`` as well.

    Args:
        src (str | Path): The zoo checkpoint.
        dst (str | Path): Where to write the converted checkpoint (parent
            folders are created).
        model_name (str): Zoo name or alias, e.g. ``'resnet32x4'``.
        config (str | Path, optional): Model config to convert to. Defaults
            to ``configs/_base_/models/cifar100/<model_name>.py``.
        prefix (str): See :func:`extract_state_dict`. Defaults to ``''``.

    Returns:
        dict: The saved checkpoint.
    """
    from mmpretrain.datasets.categories import CIFAR100_CATEGORIES

    src, dst = Path(src), Path(dst)
    name = resolve_model_name(model_name)
    if config is None:
        config = default_config_path(name)
    if not src.is_file():
        raise FileNotFoundError(f'No such checkpoint: {src}')
    checkpoint = safe_torch_load(str(src), map_location='cpu')
    state_dict = convert_mdistiller_state_dict(
        extract_state_dict(checkpoint, prefix), name, config)
    meta = {
        'converted_from': 'CRD / mdistiller CIFAR-100 model zoo',
        'model': name,
        'config': str(config),
        'source': src.name,
        'source_sha256': _sha256(src),
        'dataset_meta': {
            'classes': list(CIFAR100_CATEGORIES)
        },
    }
    out = {'meta': meta, 'state_dict': state_dict}
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, dst)
    return out
