# Copyright (c) mmenergykd contributors. All rights reserved.
"""Import the code of a program in ``tools/`` as the program itself does.

``python tools/X.py`` puts ``tools/`` first on ``sys.path`` (Python does that
for every script), so the script imports its sibling packages
(``analysis_tools``, ``model_converters``) by name. The tests get the same
packages without changing ``sys.path``: the top-level package is found in
``tools/`` and registered under its own name.
"""
import importlib
import importlib.machinery
import importlib.util
import os.path as osp
import sys
from types import ModuleType

from tests.helpers import REPO

TOOLS = osp.join(REPO, 'tools')


def import_tool_module(name: str) -> ModuleType:
    """Import ``name`` (e.g. ``'analysis_tools.speed_benchmark'``) from
    ``tools/``."""
    top = name.split('.')[0]
    if top not in sys.modules:
        spec = importlib.machinery.PathFinder.find_spec(top, [TOOLS])
        if spec is None:
            raise ImportError(f'no package {top!r} in {TOOLS}')
        module = importlib.util.module_from_spec(spec)
        sys.modules[top] = module
        spec.loader.exec_module(module)
    return importlib.import_module(name)
