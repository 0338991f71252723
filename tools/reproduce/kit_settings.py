# Copyright (c) mmenergykd contributors. All rights reserved.
"""The paper's CIFAR-100 pairs and the methods the kit understands.

One place for the names of the reproduction kit: pair keys
(``<teacher>_<student>``, the zoo names the config files use), method keys
(the config names' prefix: ``configs/<method>/``, the release direction
beside the paper's in ``configs/energykd/`` and ``configs/energydkd/``) and
the config base name that joins them. The published numbers are not here:
they are read from the metafiles (``kit_configs.ModelIndex.published``), the
one place that holds them.
"""
import re
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

# key -> (teacher, student); the author's ten pairs (method.md section 7)
# plus the Energy KD release's ResNet56 -> ResNet20.
PAIRS: Dict[str, Tuple[str, str]] = {
    'resnet32x4_resnet8x4': ('resnet32x4', 'resnet8x4'),
    'wrn_40_2_wrn_16_2': ('wrn_40_2', 'wrn_16_2'),
    'wrn_40_2_wrn_40_1': ('wrn_40_2', 'wrn_40_1'),
    'resnet110_resnet32': ('resnet110', 'resnet32'),
    'vgg13_vgg8': ('vgg13', 'vgg8'),
    'wrn_40_2_shufflenetv1': ('wrn_40_2', 'shufflenetv1'),
    'resnet32x4_shufflenetv1': ('resnet32x4', 'shufflenetv1'),
    'resnet32x4_shufflenetv2': ('resnet32x4', 'shufflenetv2'),
    'vgg13_mobilenetv2': ('vgg13', 'mobilenetv2'),
    'resnet50_mobilenetv2': ('resnet50', 'mobilenetv2'),
    'resnet56_resnet20': ('resnet56', 'resnet20'),
}

# method key == the config name's prefix
METHODS: Tuple[str, ...] = ('kd', 'dkd', 'mlkd', 'energykd',
                            'energykd-release', 'energydkd',
                            'energydkd-release', 'energymlkd', 'kd-heda')


class Published(NamedTuple):
    """A published top-1 accuracy and where it comes from."""
    top1: float
    source: str


_NAME = re.compile(
    r'^(?P<method>[a-z0-9-]+)_(?P<pair>.+)_(?P<gpus>\d+)xb'
    r'(?P<batch>\d+)_(?P<schedule>\d+e)_(?P<dataset>[a-z0-9-]+)$')


def config_name(pair: str, method: str, schedule: str = '240e') -> str:
    """The config base name of a (pair, method), e.g. ``kd_vgg13_vgg8_...``.

    Args:
        pair (str): A key of :data:`PAIRS`.
        method (str): One of :data:`METHODS`.
        schedule (str): ``'<N>e'``, e.g. ``'240e'``.

    Returns:
        str: ``<method>_<teacher>_<student>_1xb64_<schedule>_cifar100``.
    """
    return f'{method}_{pair}_1xb64_{schedule}_cifar100'


def parse_config_name(name: str) -> Optional[Dict[str, str]]:
    """Split a config base name into method, pair, schedule and dataset.

    Args:
        name (str): e.g. ``energykd_wrn_40_2_wrn_16_2_1xb64_240e_cifar100``.

    Returns:
        dict | None: Keys ``method``, ``pair``, ``schedule``, ``dataset``;
        None for a name outside the ``<method>_<pair>_<N>xb<B>_...`` scheme.
    """
    match = _NAME.match(name)
    if match is None:
        return None
    return {
        k: match.group(k)
        for k in ('method', 'pair', 'schedule', 'dataset')
    }


def select(value: str, known: Sequence[str], setting: str) -> List[str]:
    """Parse a comma-separated selection (or ``all``) against known keys.

    Args:
        value (str): e.g. ``'kd,dkd'`` or ``'all'``.
        known (Sequence[str]): The valid keys, in their canonical order.
        setting (str): The command-line flag, for the error message.

    Returns:
        list[str]: The chosen keys, without duplicates, in the given order
        (``all``: the canonical order).
    """
    if value.strip() == 'all':
        return list(known)
    chosen: List[str] = []
    for item in value.split(','):
        item = item.strip()
        if not item:
            continue
        if item not in known:
            raise ValueError(f'{setting} {item!r} is unknown. Choose from '
                             f'{", ".join(known)} (comma-separated), or '
                             f'`{setting} all`.')
        if item not in chosen:
            chosen.append(item)
    if not chosen:
        raise ValueError(f'{setting} is empty: name at least one of '
                         f'{", ".join(known)}, or `{setting} all`.')
    return chosen
