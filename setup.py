# Copyright (c) mmenergykd contributors. All rights reserved.
"""Install mmenergykd.

``mmcv`` is deliberately not an install requirement: installing ``mmcv-lite``
over a user's full ``mmcv`` would overwrite its files. ``pip install
.[lite]`` adds ``mmcv-lite`` for users who have neither.

As MMPretrain does, the top-level ``configs/`` are copied into
``mmenergykd/.mim/configs`` at build time so that
``mmengine.hub.get_config('mmenergykd::energykd/res34_res18_in1k.py')``
finds them.
"""
import os
import os.path as osp
import shutil
from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

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


def add_mim_extension() -> None:
    """Copy configs and the model index into ``mmenergykd/.mim``."""
    mim_dir = osp.join(HERE, 'mmenergykd', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in ('configs', 'tools', 'model-index.yml'):
        src = osp.join(HERE, name)
        dst = osp.join(mim_dir, name)
        if osp.isdir(dst) and not osp.islink(dst):
            shutil.rmtree(dst)
        elif osp.lexists(dst):
            os.remove(dst)
        if osp.isdir(src):
            shutil.copytree(src, dst)
        elif osp.isfile(src):
            shutil.copyfile(src, dst)


class BuildPyWithMim(build_py):

    def run(self):
        add_mim_extension()
        super().run()


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmenergykd',
        version=get_version(),
        description='Energy-based knowledge distillation (Energy KD, HE-DA) '
        'with KD / DKD baselines as an MMPretrain plugin',
        long_description=open(osp.join(HERE, 'README.md')).read()
        if osp.exists(osp.join(HERE, 'README.md')) else '',
        long_description_content_type='text/markdown',
        packages=find_packages(exclude=('configs', 'tools', 'tests')),
        include_package_data=True,
        package_data={'mmenergykd': ['.mim/**/*', '.mim/*']},
        python_requires='>=3.8',
        install_requires=read_requirements('runtime.txt'),
        extras_require={
            'lite': read_requirements('mminstall.txt'),
            'tests': read_requirements('tests.txt'),
        },
        cmdclass={'build_py': BuildPyWithMim},
        license='Apache License 2.0',
        zip_safe=False)
