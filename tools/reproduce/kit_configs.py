# Copyright (c) mmenergykd contributors. All rights reserved.
"""Find a config and its published number through the model index.

``model-index.yml`` imports the metafiles; each metafile's ``Models`` lists
``Name``, ``Config`` (a path from the repository root) and optionally
``Results`` (``Metrics: Top 1 Accuracy``), the one source of published
numbers. Configs are looked up by name there first, so renamed or moved
configs keep working; a config that no metafile lists yet is found by its
file name under ``configs/`` (and has no published number). A (method,
pair) may exist on several schedules (240 epochs; the release's 360; MLKD's
own 480 for ShuffleNet / MobileNet students): :meth:`ModelIndex.choose`
picks one.
"""
import glob
import os.path as osp
from typing import Dict, List, Optional

import yaml
from kit_settings import Published, parse_config_name

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class ModelIndex:
    """The models that ``model-index.yml``'s metafiles list, by name.

    Args:
        repo (str): Repository root holding ``model-index.yml`` and
            ``configs/``. Defaults to this checkout.
    """

    def __init__(self, repo: str = REPO) -> None:
        self.repo = repo
        self.entries: Dict[str, dict] = {}
        self.files: Dict[str, List[str]] = {}
        pattern = osp.join(repo, 'configs', '**', '*.py')
        for path in sorted(glob.glob(pattern, recursive=True)):
            if '_base_' not in path.split(osp.sep):
                stem = osp.splitext(osp.basename(path))[0]
                self.files.setdefault(stem, []).append(path)
        index = osp.join(repo, 'model-index.yml')
        if osp.isfile(index):
            for metafile in self._load(index).get('Import', []) or []:
                self._add_metafile(osp.join(repo, metafile))

    @staticmethod
    def _load(path: str) -> dict:
        with open(path) as f:
            return yaml.safe_load(f) or {}

    def _add_metafile(self, path: str) -> None:
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'model-index.yml imports {path}, which does not exist: fix '
                'the `Import` list of model-index.yml.')
        for model in self._load(path).get('Models', []) or []:
            config = model.get('Config')
            if not config:
                continue
            stem = osp.splitext(osp.basename(config))[0]
            # both the model name and the config's base name find it
            self.entries.setdefault(model.get('Name', stem), model)
            self.entries.setdefault(stem, model)

    def config_path(self, name: str) -> Optional[str]:
        """The config file of a model name (absolute path), or None.

        Args:
            name (str): A model-index name or config base name.

        Returns:
            str | None: The metafile's ``Config`` when listed there, else the
            one ``configs/**/<name>.py``; None when neither exists.
        """
        entry = self.entries.get(name)
        if entry is not None:
            path = osp.join(self.repo, entry['Config'])
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'The metafile entry {name!r} names Config {path}, which '
                    'does not exist: fix the metafile.')
            return path
        found = self.files.get(name, [])
        if len(found) > 1:
            raise ValueError(f'Several configs are named {name}.py: {found}; '
                             'list the one to use in a metafile.')
        return found[0] if found else None

    def schedules(self,
                  method: str,
                  pair: str,
                  dataset: str = 'cifar100') -> Dict[str, str]:
        """The configs of a (method, pair), by schedule.

        Args:
            method (str): e.g. ``'mlkd'``.
            pair (str): e.g. ``'vgg13_mobilenetv2'``.
            dataset (str): The config name's dataset part.

        Returns:
            dict[str, str]: e.g. ``{'480e': 'mlkd_vgg13_..._480e_cifar100'}``.
        """
        found: Dict[str, str] = {}
        for name in sorted(set(self.entries) | set(self.files)):
            parts = parse_config_name(name)
            if parts is not None and parts['method'] == method and \
                    parts['pair'] == pair and parts['dataset'] == dataset:
                found.setdefault(parts['schedule'], name)
        return found

    def choose(self,
               method: str,
               pair: str,
               schedule: str = 'auto',
               dataset: str = 'cifar100') -> Optional[str]:
        """The config name to train for a (method, pair).

        Args:
            method (str): A method key.
            pair (str): A pair key.
            schedule (str): ``'<N>e'`` for exactly that schedule; ``'auto'``
                for 240 epochs when the (method, pair) has it, else its
                shortest schedule (MLKD's 480-epoch recipes).
            dataset (str): The config name's dataset part.

        Returns:
            str | None: None when there is no such config.
        """
        found = self.schedules(method, pair, dataset)
        if schedule != 'auto':
            return found.get(schedule)
        if '240e' in found:
            return found['240e']
        if not found:
            return None
        return found[min(found, key=lambda s: int(s[:-1]))]

    def published(self, name: str) -> Optional[Published]:
        """The published top-1 of a config, from its metafile entry.

        The metafiles are the one source of published numbers (written by
        ``.dev_scripts/generate_metafiles.py``); a config no metafile lists
        has none.

        Args:
            name (str): A model-index name or config base name.

        Returns:
            Published | None: The number and its source (the entry's
            ``Expected Result Source``).
        """
        entry = self.entries.get(name)
        for result in (entry or {}).get('Results', []) or []:
            metrics = result.get('Metrics', {}) or {}
            if metrics.get('Top 1 Accuracy') is not None:
                source = f'metafile {entry.get("Name", name)}'
                note = (entry.get('Metadata')
                        or {}).get('Expected Result Source')
                if note:
                    source += f' ({note})'
                return Published(float(metrics['Top 1 Accuracy']), source)
        return None
