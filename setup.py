# Copyright (c) mmenergykd contributors. All rights reserved.
"""Install mmenergykd.

``mmcv`` is deliberately not an install requirement: installing ``mmcv-lite``
over a user's full ``mmcv`` would overwrite its files. ``pip install
.[lite]`` adds ``mmcv-lite`` for users who have neither.

As MMPretrain does, the top-level ``configs/``, ``tools/`` and
``model-index.yml`` are copied into the built package's ``mmenergykd/.mim``
(for an editable install: symbolic links in the source tree, so that edits
show), so that
``mmengine.hub.get_config('mmenergykd::energykd/res34_res18_in1k.py')``,
``_base_ = ['mmenergykd::...']`` and ``mim train mmenergykd`` find them.

Both installs also put ``mmenergykd-mim-scope.pth`` into site-packages: it
runs the standard-library-only source of ``mmenergykd/utils/mim.py`` at
interpreter start, which makes MMEngine and mim know the ``mmenergykd::``
scope whenever mmenergykd is installed, without importing it (see that
module).
"""
import os
import os.path as osp
import shutil
from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

try:  # setuptools >= 64 (PEP 660 editable installs)
    from setuptools.command.editable_wheel import editable_wheel
except ImportError:  # pragma: no cover
    editable_wheel = None

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name: str) -> list:
    path = osp.join(HERE, 'requirements', name)
    with open(path) as f:
        return [
            line.strip() for line in f
            if line.strip() and not line.startswith(('#', '-'))
        ]


def get_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'mmenergykd', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def add_mim_extension(mim_dir: str, symlink: bool = False) -> None:
    """Copy (or link) configs, tools and the model index into ``mim_dir``.

    Args:
        mim_dir (str): The ``mmenergykd/.mim`` folder to fill: the source
            tree's (links, every install) and the build folder's (copies,
            for a wheel).
        symlink (bool): Link instead of copying (editable installs, as
            MMPretrain's setup.py does in develop mode).
    """
    os.makedirs(mim_dir, exist_ok=True)
    for name in ('configs', 'tools', 'model-index.yml'):
        src = osp.join(HERE, name)
        dst = osp.join(mim_dir, name)
        if osp.isdir(dst) and not osp.islink(dst):
            shutil.rmtree(dst)
        elif osp.lexists(dst):
            os.remove(dst)
        if not osp.exists(src):
            continue
        if symlink:
            os.symlink(osp.relpath(src, mim_dir), dst)
        elif osp.isdir(src):
            shutil.copytree(
                src, dst, ignore=shutil.ignore_patterns('__pycache__'))
        else:
            shutil.copyfile(src, dst)


PTH_NAME = 'mmenergykd-mim-scope.pth'


def write_scope_pth(folder: str) -> str:
    """Write the ``.pth`` file that installs the ``mmenergykd::`` hook.

    A ``.pth`` line that starts with ``import`` is executed at interpreter
    start; this one runs ``mmenergykd/utils/mim.py`` (standard library
    only) under the name that makes it call ``install_scope_hook()``.
    """
    with open(osp.join(HERE, 'mmenergykd', 'utils', 'mim.py')) as f:
        source = f.read()
    line = ('import sys; exec(compile({!r}, {!r}, "exec"), '
            '{{"__name__": "_mmenergykd_mim_scope"}})\n').format(
                source, PTH_NAME)
    os.makedirs(folder, exist_ok=True)
    path = osp.join(folder, PTH_NAME)
    with open(path, 'w') as f:
        f.write(line)
    return path


class BuildPyWithMim(build_py):
    """``build_py`` that fills ``.mim`` and adds the scope ``.pth``."""

    def run(self):
        editable = getattr(self, 'editable_mode', False)
        # The source tree's .mim too (links), as MMPretrain fills its own:
        # a process started in a checkout imports mmenergykd from the source
        # tree, and mim looks for model-index.yml next to that package.
        add_mim_extension(osp.join(HERE, 'mmenergykd', '.mim'), symlink=True)
        super().run()
        if not editable:
            add_mim_extension(osp.join(self.build_lib, 'mmenergykd', '.mim'))
            # The wheel's root is site-packages (a pure-Python wheel).
            write_scope_pth(self.build_lib)


cmdclass = {'build_py': BuildPyWithMim}

if editable_wheel is not None:

    class EditableWheelWithMim(editable_wheel):
        """``pip install -e .``: the scope ``.pth`` goes into the wheel's
        root (site-packages) next to setuptools' own editable ``.pth``.

        ``_run_build_commands`` is setuptools' step that fills that root
        (tested with setuptools 81); should it change, the ``.pth`` would be
        missing, which ``tests/test_utils/test_mim_scope.py`` reports.
        """

        def _run_build_commands(self, dist_name, unpacked_wheel, *args,
                                **kwargs):
            result = super()._run_build_commands(dist_name, unpacked_wheel,
                                                 *args, **kwargs)
            write_scope_pth(str(unpacked_wheel))
            return result

    cmdclass['editable_wheel'] = EditableWheelWithMim

if __name__ == '__main__':
    setup(
        name='mmenergykd',
        version=get_version(),
        description='Energy-based knowledge distillation (Energy KD, HE-DA) '
        'with KD / DKD baselines as an MMPretrain plugin',
        long_description=open(osp.join(HERE, 'README.md')).read()
        if osp.exists(osp.join(HERE, 'README.md')) else '',
        long_description_content_type='text/markdown',
        packages=find_packages(include=('mmenergykd', 'mmenergykd.*')),
        include_package_data=True,
        python_requires='>=3.9',
        install_requires=read_requirements('runtime.txt'),
        extras_require={
            'lite': read_requirements('mminstall.txt'),
            'tests': read_requirements('tests.txt'),
        },
        cmdclass=cmdclass,
        license='Apache License 2.0',
        zip_safe=False)
