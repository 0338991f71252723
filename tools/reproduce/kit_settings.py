# Copyright (c) mmenergykd contributors. All rights reserved.
"""The paper's CIFAR-100 pairs, the methods, and the published numbers.

One place for the names the reproduction kit understands: pair keys
(``<teacher>_<student>``, the zoo names the config files use), method keys
(the config folders under ``configs/cifar100/``), the config base name that
joins them, and the fallback table of published top-1 accuracies used when a
config's metafile entry carries no ``Results``.
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

# method key == the config folder (and the config name's prefix)
METHODS: Tuple[str, ...] = ('kd', 'dkd', 'mlkd', 'energykd',
                            'energykd-release', 'energydkd',
                            'energydkd-release', 'energymlkd', 'kd-heda')

# schedules the published numbers are for: the 240-epoch protocol, and
# MLKD's own 480 epochs for ShuffleNet / MobileNet students (the release's
# 360-epoch variants have no published number)
PUBLISHED_SCHEDULES: Tuple[str, ...] = ('240e', '480e')

# Published CIFAR-100 top-1 (%), best epoch as the papers report it.
# Source: ../shared/docs/anchors.md, "The paper's own numbers": the Energy KD
# first author's results table (GitHub Seonghak35/Seonghak35.github.io,
# kd-leaderboard/results.json), whose KD / DKD / MLKD rows are the CRD / DKD
# / MLKD papers' numbers; ResNet56 -> ResNet20 KD / DKD from mdistiller's
# README (the author's table has no such row). Only the paper's temperature
# direction (``energykd``, ``energydkd``, ``energymlkd``) is published; the
# release direction and KD + HE-DA have no published CIFAR-100 number.
_AUTHOR = "Energy KD author's results table (anchors.md)"
_MDISTILLER = "mdistiller README (anchors.md)"
_COLUMNS = ('kd', 'energykd', 'dkd', 'energydkd', 'mlkd', 'energymlkd')
_TABLE = {
    'resnet32x4_resnet8x4': (73.33, 74.60, 76.32, 76.78, 77.08, 77.31),
    'wrn_40_2_wrn_16_2': (74.92, 75.45, 76.24, 76.66, 76.63, 77.19),
    'wrn_40_2_wrn_40_1': (73.54, 74.28, 74.81, 74.97, 75.35, 75.70),
    # Energy DKD 74.11 is marked "(?)" in anchors.md: equal to DKD's
    'resnet110_resnet32': (73.08, 73.68, 74.11, 74.11, 74.11, 74.60),
    'vgg13_vgg8': (72.98, 73.73, 74.68, 74.90, 75.18, 75.56),
    'wrn_40_2_shufflenetv1': (74.83, 75.90, 76.70, 77.06, 77.44, 77.76),
    'resnet32x4_shufflenetv1': (74.07, 75.20, 76.45, 76.89, 77.18, 77.82),
    'resnet32x4_shufflenetv2': (74.45, 75.87, 77.07, 77.55, 78.44, 78.64),
    # Energy DKD: the table's 77.19 is above the teacher (a typo): unknown
    'vgg13_mobilenetv2': (67.37, 68.65, 69.71, None, 70.57, 70.89),
    'resnet50_mobilenetv2': (67.35, 68.97, 70.35, 70.77, 71.04, 71.32),
}


class Published(NamedTuple):
    """A published top-1 accuracy and where it comes from."""
    top1: float
    source: str


def _build_published() -> Dict[Tuple[str, str], Published]:
    """(method, pair) -> Published, from the table above."""
    table = {}
    for pair, values in _TABLE.items():
        for method, value in zip(_COLUMNS, values):
            if value is not None:
                table[(method, pair)] = Published(value, _AUTHOR)
    table[('kd', 'resnet56_resnet20')] = Published(70.66, _MDISTILLER)
    table[('dkd', 'resnet56_resnet20')] = Published(71.97, _MDISTILLER)
    return table


PUBLISHED: Dict[Tuple[str, str], Published] = _build_published()

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


def published_fallback(name: str) -> Optional[Published]:
    """The published number of a CIFAR-100 config, by its name.

    Args:
        name (str): A config base name.

    Returns:
        Published | None: None when nothing is published for it (other
        datasets, 360-epoch variants, the release direction, KD + HE-DA).
    """
    parts = parse_config_name(name)
    if parts is None or parts['dataset'] != 'cifar100' \
            or parts['schedule'] not in PUBLISHED_SCHEDULES:
        return None
    return PUBLISHED.get((parts['method'], parts['pair']))


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
