# Copyright (c) mmenergykd contributors. All rights reserved.
"""Make ``mmenergykd::path/to/config.py`` resolve like ``mmpretrain::``.

MMEngine resolves ``package::`` config prefixes through a fixed table,
``mmengine.config.utils.MODULE2PACKAGE``, and finds the package's files
(``.mim/configs``) with ``pkg_resources``; mim does the same with its own
copy of that lookup. This module makes both know mmenergykd whenever it is
*installed*, not only once something imported it:

- ``setup.py`` writes ``mmenergykd-mim-scope.pth`` into site-packages; at
  interpreter start it runs the source of this module (standard library
  only: nothing of MMEngine or torch is imported) and calls
  :func:`install_scope_hook`;
- the hook waits, in ``sys.meta_path``, for MMEngine's or mim's modules to
  be imported by whoever needs them, and then adds ``mmenergykd`` to
  ``MODULE2PACKAGE`` and lets ``get_installed_path('mmenergykd')`` find the
  package's source folder for editable installs (``pip install -e .``),
  where ``pkg_resources`` names site-packages, which holds no
  ``mmenergykd`` folder.

``import mmenergykd`` calls :func:`register_mim_scope` too, for a checkout
that is on ``sys.path`` without being installed.
"""
import importlib.util
import os.path as osp
import sys

__all__ = ['register_mim_scope', 'install_scope_hook', 'package_path']

PACKAGE = 'mmenergykd'
#: Modules whose import triggers the hook, and what it then patches.
_TARGETS = ('mmengine.config.utils', 'mmengine.utils.package_utils',
            'mim.utils.utils')
_REEXPORTS = ('mmengine.utils', 'mmengine.config.config', 'mmengine.hub.hub',
              'mim.utils', 'mim.commands.search', 'mim.commands.train',
              'mim.commands.test', 'mim.commands.run')


def package_path(found_path=None):
    """The folder of the installed ``mmenergykd`` package.

    Args:
        found_path (str, optional): What ``pkg_resources`` gave (its
            distribution's location joined with the package name).

    Returns:
        str | None: ``found_path`` when that folder exists (a regular
        install); otherwise the folder Python imports ``mmenergykd`` from
        (an editable install maps it to the source tree), found without
        importing it; None when neither exists.
    """
    if found_path is not None and osp.isdir(found_path):
        return found_path
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return found_path
    return list(spec.submodule_search_locations)[0]


def _wrap_get_installed_path(original):
    """``get_installed_path`` that finds editable installs of mmenergykd."""

    def get_installed_path(package, *args, **kwargs):
        if package != PACKAGE:
            return original(package, *args, **kwargs)
        try:
            found = original(package, *args, **kwargs)
        except Exception:  # pkg_resources.DistributionNotFound and kin
            found = None
        path = package_path(found)
        if path is None:
            return original(package, *args, **kwargs)
        return path

    get_installed_path.__wrapped__ = original
    get_installed_path.__doc__ = original.__doc__
    get_installed_path._mmenergykd = True
    return get_installed_path


def _patch(module) -> None:
    """Teach one of MMEngine's / mim's modules about mmenergykd."""
    table = getattr(module, 'MODULE2PACKAGE', None)
    if isinstance(table, dict):
        table.setdefault(PACKAGE, PACKAGE)
    original = getattr(module, 'get_installed_path', None)
    if callable(original) and not getattr(original, '_mmenergykd', False):
        module.get_installed_path = _wrap_get_installed_path(original)


class _PatchingLoader:
    """Runs the real loader, then :func:`_patch` on the new module."""

    def __init__(self, loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        _patch(module)

    def __getattr__(self, name):  # get_source, get_filename, ...
        return getattr(self._loader, name)


class MimScopeFinder:
    """``sys.meta_path`` entry that patches the modules in ``_TARGETS``.

    It finds nothing itself: for the three target modules it asks the
    other finders and wraps the loader they return; every other import is
    left to them untouched.
    """

    _mmenergykd_scope_hook = True

    def find_spec(self, name, path=None, target=None):
        if name not in _TARGETS:
            return None
        for finder in sys.meta_path:
            if finder is self or getattr(finder, '_mmenergykd_scope_hook',
                                         False):
                continue
            find_spec = getattr(finder, 'find_spec', None)
            spec = find_spec(name, path, target) if find_spec else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader,
                                                       'exec_module'):
                    spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


def install_scope_hook() -> None:
    """Put :class:`MimScopeFinder` first in ``sys.meta_path`` (once).

    Modules among ``_TARGETS`` that are already imported are patched at
    once.
    """
    for name in _TARGETS:
        if name in sys.modules:
            _patch(sys.modules[name])
    if not any(
            getattr(finder, '_mmenergykd_scope_hook', False)
            for finder in sys.meta_path):
        sys.meta_path.insert(0, MimScopeFinder())


def register_mim_scope() -> None:
    """Let MMEngine resolve ``mmenergykd::`` config references now.

    Adds ``mmenergykd`` to ``mmengine.config.utils.MODULE2PACKAGE`` and
    installs the hook for modules not imported yet (the ``.pth`` file of
    an installed mmenergykd has done so at interpreter start).
    """
    install_scope_hook()
    from mmengine.config import utils as config_utils
    _patch(config_utils)
    # Modules that copied `get_installed_path` before the hook was there.
    for name in _REEXPORTS:
        if name in sys.modules:
            _patch(sys.modules[name])


if __name__ == '_mmenergykd_mim_scope':  # run by mmenergykd-mim-scope.pth
    install_scope_hook()
