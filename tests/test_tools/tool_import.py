# Copyright (c) mmenergykd contributors. All rights reserved.
"""The one way tests import the code of a program in ``tools/``.

``python tools/X.py`` puts ``tools/`` on ``sys.path`` (Python does that for
every script), so the script imports its sibling packages
(``analysis_tools``, ``model_converters``) by name, and the worker
processes a tool spawns inherit that path. :func:`import_tool_module` gives
the tests the same view: the tool's folder on ``sys.path`` (appended, so it
never hides an installed module), then an ordinary import. Only the tests
in ``tests/test_tools/`` import tools (``tests/test_architecture.py``
checks it); the package's own tests use the package.
"""
import importlib
import importlib.util
import os.path as osp
import sys
from types import ModuleType
from typing import Optional

from tests.helpers import REPO

TOOLS = osp.join(REPO, 'tools')


def import_tool_module(name: str,
                       folder: str = TOOLS,
                       as_name: Optional[str] = None) -> ModuleType:
    """Import ``name`` from ``folder`` as the tools there see it.

    Args:
        name (str): A module or package of ``folder``, e.g.
            ``'build_teacher_bank'`` or ``'analysis_tools.speed_benchmark'``.
        folder (str): ``tools/`` or a tool's own folder whose scripts import
            each other by name (``tools/reproduce``).
        as_name (str, optional): Load the script ``folder/name.py`` from its
            file under this module name instead (a script whose name an
            installed module already has, such as ``test``, or another
            package's script); ``sys.path`` is left alone.

    Returns:
        ModuleType: The module.
    """
    folder = osp.abspath(folder)
    if as_name is not None:
        if as_name not in sys.modules:
            spec = importlib.util.spec_from_file_location(
                as_name, osp.join(folder, f'{name}.py'))
            module = importlib.util.module_from_spec(spec)
            sys.modules[as_name] = module
            spec.loader.exec_module(module)
        return sys.modules[as_name]
    if folder not in sys.path:
        sys.path.append(folder)
    module = importlib.import_module(name)
    found = osp.abspath(getattr(module, '__file__', '') or '')
    if not found.startswith(folder + osp.sep):
        raise ImportError(f'{name!r} was imported from {found}, not from '
                          f'{folder}: pass as_name to load the script there.')
    return module
