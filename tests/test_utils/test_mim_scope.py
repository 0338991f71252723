# Copyright (c) mmenergykd contributors. All rights reserved.
"""``mmenergykd::`` is known whenever mmenergykd is installed, not imported.

Fresh processes that never import mmenergykd themselves: MMEngine's
``Config.fromfile`` / ``get_config``, MMPretrain's own ``tools/train.py``
through ``mim train mmpretrain``, and the ``.pth`` file setup.py installs.
"""
import glob
import importlib.util
import os
import os.path as osp
import site
import subprocess
import sys
import sysconfig

import torch
from mmengine.config import Config

import mmenergykd.utils.mim as mim_scope
from tests.helpers import CONFIGS, REPO, save_teacher_for

USER_CONFIG = "_base_ = ['mmenergykd::energykd/res34_res18_in1k.py']\n"

FRESH = r'''
import sys
# the installed .pth put the hook in place and imported nothing heavy
assert 'mmengine' not in sys.modules and 'torch' not in sys.modules
assert any(getattr(f, '_mmenergykd_scope_hook', False) for f in sys.meta_path)
from mmengine.config import Config
cfg = Config.fromfile(sys.argv[1], import_custom_modules=False)
assert cfg.model.type == 'EnergyKDDistiller', cfg.model.type
assert 'mmenergykd' not in sys.modules
from mmengine.config.utils import MODULE2PACKAGE, PKG2PROJECT
assert MODULE2PACKAGE['mmenergykd'] == PKG2PROJECT['mmenergykd']
from mmengine.utils import get_installed_path
import importlib.util, os.path as osp
# the package Python imports (the source tree for `pip install -e .`),
# found without importing it
imported = osp.dirname(importlib.util.find_spec('mmenergykd').origin)
assert osp.realpath(get_installed_path('mmenergykd')) == \
    osp.realpath(imported), (get_installed_path('mmenergykd'), imported)
assert 'mmenergykd' not in sys.modules
print(get_installed_path('mmenergykd'))
'''


def run_python(args, cwd, timeout=300, **kwargs):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('PYTHONPATH', None)  # nothing but what is installed
    return subprocess.run(
        [sys.executable] + list(args),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs)


def test_user_config_inheriting_mmenergykd_loads_in_a_fresh_process(tmp_path):
    user = tmp_path / 'user.py'
    user.write_text(USER_CONFIG)
    result = run_python(['-c', FRESH, str(user)], cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    package = result.stdout.strip().splitlines()[-1]
    shipped = osp.join(package, '.mim', 'configs', 'energykd',
                       'res34_res18_in1k.py')
    with open(shipped) as f, open(
            osp.join(CONFIGS, 'energykd', 'res34_res18_in1k.py')) as g:
        assert f.read() == g.read()


def test_installed_pth_runs_the_current_hook_source():
    # `pip install .` and `pip install -e .` both write it into
    # site-packages; a stale copy (mim.py edited since) means: reinstall.
    dirs = site.getsitepackages() + [sysconfig.get_paths()['purelib']]
    found = [
        p for d in dirs
        for p in glob.glob(osp.join(d, 'mmenergykd-mim-scope.pth'))
    ]
    assert found, f'mmenergykd-mim-scope.pth is in none of {dirs}'
    with open(found[0]) as f:
        line = f.read()
    assert line.startswith('import sys; exec(compile(') and \
        line.count('\n') == 1
    with open(mim_scope.__file__) as f:
        assert repr(f.read()) in line, \
            'the installed hook is stale: run `pip install -e .` again'


def test_pth_written_by_setup_works_without_the_installed_one(tmp_path):
    """setup.py's .pth alone (``python -S``: no site-packages .pth runs)
    makes MMEngine know the scope, importing nothing heavy at start."""
    spec = importlib.util.spec_from_file_location('mmenergykd_setup',
                                                  osp.join(REPO, 'setup.py'))
    setup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup)  # not __main__: setup() is not called
    setup.write_scope_pth(str(tmp_path))
    import mmengine
    packages = osp.dirname(osp.dirname(mmengine.__file__))
    script = f'''
import sys
sys.path.append({packages!r})  # the packages, without their .pth files
import site
site.addsitedir({str(tmp_path)!r})
assert 'mmengine' not in sys.modules and 'torch' not in sys.modules
from mmengine.config.utils import MODULE2PACKAGE
assert MODULE2PACKAGE['mmenergykd'] == 'mmenergykd'
print('OK')
'''
    result = run_python(['-S', '-c', script], cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == 'OK'


def test_hook_leaves_other_packages_and_imports_alone(tmp_path):
    from mmengine.utils import get_installed_path
    assert getattr(get_installed_path, '_mmenergykd', False)
    assert osp.basename(get_installed_path('mmpretrain')) == 'mmpretrain'
    finder = mim_scope.MimScopeFinder()
    assert finder.find_spec('json') is None
    assert finder.find_spec('mmengine.config') is None
    # an editable install: pkg_resources names site-packages, which holds
    # no mmenergykd folder; the folder Python imports is used instead
    missing = str(tmp_path / 'site-packages' / 'mmenergykd')
    assert mim_scope.package_path(missing) == osp.dirname(
        importlib.util.find_spec('mmenergykd').origin)
    assert mim_scope.package_path(str(tmp_path)) == str(tmp_path)


def test_mim_train_mmpretrain_runs_a_user_config_of_ours(tmp_path):
    """``mim train mmpretrain`` runs MMPretrain's own tools/train.py on a
    user config inheriting ``mmenergykd::`` (digits, 2 iterations)."""
    base = sorted(
        glob.glob(osp.join(CONFIGS, 'energykd', 'energykd_*_digits.py')))[0]
    teacher = save_teacher_for(
        Config.fromfile(base), str(tmp_path / 'teacher.pth'))
    user = tmp_path / 'user_digits.py'
    user.write_text(f"_base_ = ['mmenergykd::energykd/{osp.basename(base)}']\n"
                    f'model = dict(teacher_ckpt={teacher!r})\n'
                    'train_dataloader = dict(dataset=dict(indices=128))\n'
                    'val_dataloader = dict(dataset=dict(indices=64))\n'
                    'test_dataloader = val_dataloader\n'
                    'train_cfg = dict(max_epochs=1)\n')
    work = str(tmp_path / 'work')
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    result = subprocess.run(
        [mim, 'train', 'mmpretrain',
         str(user), '--work-dir', work],
        cwd=str(tmp_path),
        env=dict(os.environ, OMP_NUM_THREADS='1'),
        capture_output=True,
        text=True,
        timeout=300)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert 'mmpretrain/.mim/tools/train.py' in log  # MMPretrain's own tool
    ckpt = torch.load(
        osp.join(work, 'epoch_1.pth'), map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 2  # 128 images, batches of 64
    assert any(k.startswith('student.') for k in ckpt['state_dict'])
