# Copyright (c) mmenergykd contributors. All rights reserved.
"""Read MMEngine work dirs: validation top-1 per epoch, config, state.

MMEngine writes, per start of a run, ``<work_dir>/<timestamp>/vis_data/``
with ``scalars.json`` (one JSON object per line; validation lines carry
``accuracy/top1`` in percent and ``step`` = the epoch for epoch-based
loops) and ``config.py`` (the config as run). A resumed run adds a new
timestamp folder; later folders override earlier ones epoch by epoch.
"""
import glob
import json
import os
import os.path as osp
import re
from typing import Dict, Iterable, List, NamedTuple, Optional

from kit_launch import MARKER
from mmengine.config import Config

METRIC = 'accuracy/top1'
_TIMESTAMP = re.compile(r'^\d{8}_\d{6}$')


class RunRecord(NamedTuple):
    """What one work dir says about its run."""
    work_dir: str
    name: str
    seed: Optional[int]
    max_epochs: Optional[int]
    top1: Dict[int, float]  # epoch -> validation top-1 (%)
    marked_done: bool

    @property
    def finished(self) -> bool:
        """Marked done by the kit, or validated at ``max_epochs``."""
        if self.marked_done:
            return True
        return bool(self.top1) and self.max_epochs is not None \
            and max(self.top1) >= self.max_epochs

    @property
    def best(self) -> Optional[float]:
        """Best validation top-1 over the epochs."""
        return max(self.top1.values()) if self.top1 else None

    @property
    def last(self) -> Optional[float]:
        """Top-1 of the last validated epoch."""
        return self.top1[max(self.top1)] if self.top1 else None


def timestamp_dirs(work_dir: str) -> List[str]:
    """``<work_dir>/<timestamp>`` folders holding a scalars.json, oldest
    first."""
    found = [
        osp.dirname(osp.dirname(p)) for p in glob.glob(
            osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    ]
    return sorted(d for d in found if _TIMESTAMP.match(osp.basename(d)))


def find_work_dirs(roots: Iterable[str]) -> List[str]:
    """Every work dir under the given folders (a folder itself included).

    Args:
        roots (Iterable[str]): Work dirs or folders above them.

    Returns:
        list[str]: Folders with at least one
        ``<timestamp>/vis_data/scalars.json``, sorted, without duplicates.
    """
    found = set()
    for root in roots:
        if not osp.isdir(root):
            raise FileNotFoundError(f'{root}: no such folder. Pass MMEngine '
                                    'work dirs or folders above them.')
        for folder, subdirs, _ in os.walk(root):
            if timestamp_dirs(folder):
                found.add(osp.abspath(folder))
                subdirs[:] = []  # a run's own folders hold no other run
    return sorted(found)


def read_top1(scalars_files: Iterable[str]) -> Dict[int, float]:
    """Validation top-1 by epoch from scalars.json files, later files win.

    Args:
        scalars_files (Iterable[str]): Paths, oldest first.

    Returns:
        dict[int, float]: epoch (the line's ``step``) -> ``accuracy/top1``.
    """
    top1: Dict[int, float] = {}
    for path in scalars_files:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill
                if METRIC in record:
                    top1[int(record['step'])] = float(record[METRIC])
    return top1


def _config_name(work_dir: str, cfg: Config) -> str:
    """The dumped config's base name; else ``<name>/seed<k>``'s name."""
    dumped = [
        osp.splitext(osp.basename(p))[0]
        for p in glob.glob(osp.join(work_dir, '*.py'))
    ]
    if len(dumped) == 1:
        return dumped[0]
    folder = osp.basename(work_dir)
    if re.match(r'^seed\d+$', folder):
        return osp.basename(osp.dirname(work_dir))
    return cfg.get('experiment_name') or folder


def read_run(work_dir: str) -> RunRecord:
    """Read one work dir.

    Args:
        work_dir (str): A folder with ``<timestamp>/vis_data/`` in it.

    Returns:
        RunRecord: Name (the dumped config's base name), seed and
        ``max_epochs`` (from the newest ``vis_data/config.py``), top-1 by
        epoch, and whether the kit's completion marker is there.
    """
    stamps = timestamp_dirs(work_dir)
    if not stamps:
        raise FileNotFoundError(
            f'{work_dir} holds no <timestamp>/vis_data/scalars.json: not an '
            'MMEngine work dir, or no run has logged there yet.')
    config_file = osp.join(stamps[-1], 'vis_data', 'config.py')
    cfg = Config.fromfile(config_file, import_custom_modules=False) \
        if osp.isfile(config_file) else Config()
    seed = (cfg.get('randomness') or {}).get('seed')
    max_epochs = (cfg.get('train_cfg') or {}).get('max_epochs')
    return RunRecord(
        work_dir=work_dir,
        name=_config_name(work_dir, cfg),
        seed=None if seed is None else int(seed),
        max_epochs=None if max_epochs is None else int(max_epochs),
        top1=read_top1(
            osp.join(d, 'vis_data', 'scalars.json') for d in stamps),
        marked_done=osp.isfile(osp.join(work_dir, MARKER)))
