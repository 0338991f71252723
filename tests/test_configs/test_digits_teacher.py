"""Where the digits distillation configs find their teacher.

A per-user place (``~/.cache/mmenergykd/digits/teacher.pth``, or
``$MMENERGYKD_DIGITS_TEACHER``): the same for a source checkout, an installed
package's ``.mim`` copy of the configs (``pip install .``), any working
directory and ``mim train``. A missing teacher names the command that makes
it; a ``--quick`` teacher there is refused by the run kind in its meta.
"""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmenergykd.registry import MODELS
from mmenergykd.utils.digits_teacher import (DIGITS_TEACHER_ENV, RUN_KIND_KEY,
                                             digits_teacher_path,
                                             publish_digits_teacher)
from tests.helpers import CONFIGS, REPO, save_teacher_for

KD = osp.join(CONFIGS, 'kd',
              'kd_cifarresnet20_cifarresnet8_1xb64_30e_digits.py')
# Distillation configs are named <method>_<teacher>_<student>_...: every
# digits one distils the CifarResNet-20 teacher.
DIGITS_DISTILL = sorted(
    glob.glob(osp.join(CONFIGS, '*', '*_cifarresnet20_*_digits.py')))


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A user home of its own and no MMENERGYKD_DIGITS_TEACHER."""
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    monkeypatch.delenv(DIGITS_TEACHER_ENV, raising=False)
    return tmp_path / 'home'


def _build(cfg):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg.model)


def _save_teacher(path, kind=None):
    cfg = Config.fromfile(KD)
    os.makedirs(osp.dirname(path), exist_ok=True)
    save_teacher_for(cfg, path)
    if kind is not None:
        checkpoint = torch.load(path, weights_only=True)
        checkpoint['meta'][RUN_KIND_KEY] = kind
        torch.save(checkpoint, path)
    return path


def test_every_digits_config_names_the_user_place(home, tmp_path, monkeypatch):
    # 8 CifarResNet-8 students, 3 distillation-token ViT students.
    assert len(DIGITS_DISTILL) == 11
    monkeypatch.chdir(tmp_path)  # not the repository
    want = str(home / '.cache' / 'mmenergykd' / 'digits' / 'teacher.pth')
    assert digits_teacher_path() == want
    for path in DIGITS_DISTILL:
        ckpt = Config.fromfile(path).model.teacher_ckpt
        assert osp.expanduser(ckpt) == want, path
    mine = str(tmp_path / 'my_teacher.pth')
    monkeypatch.setenv(DIGITS_TEACHER_ENV, mine)
    assert Config.fromfile(KD).model.teacher_ckpt == mine
    assert digits_teacher_path() == mine


def test_missing_digits_teacher_names_the_command(tmp_path, monkeypatch):
    missing = str(tmp_path / 'no_teacher.pth')
    monkeypatch.setenv(DIGITS_TEACHER_ENV, missing)
    cfg = Config.fromfile(KD)
    assert cfg.model.teacher_ckpt == missing
    with pytest.raises(FileNotFoundError) as info:
        _build(cfg)
    message = str(info.value)
    assert missing in message
    assert 'python tools/benchmark_digits.py' in message
    assert 'mim run mmenergykd benchmark_digits' in message
    assert DIGITS_TEACHER_ENV in message
    # any other missing teacher gets the general advice, not the digits one
    cfg.model.teacher_ckpt = str(tmp_path / 'other.pth')
    with pytest.raises(FileNotFoundError) as info:
        _build(cfg)
    assert 'benchmark_digits' not in str(info.value)


def test_quick_teacher_is_refused_by_the_configs(home, tmp_path):
    place = digits_teacher_path()
    _save_teacher(place, kind='quick')
    with pytest.raises(ValueError) as info:
        _build(Config.fromfile(KD))
    message = str(info.value)
    assert place in message and '--quick' in message
    assert f"{RUN_KIND_KEY}='quick'" in message
    # named explicitly somewhere else, the same file is the user's choice
    elsewhere = str(tmp_path / 'quick_teacher.pth')
    _save_teacher(elsewhere, kind='quick')
    cfg = Config.fromfile(KD)
    cfg.model.teacher_ckpt = elsewhere
    assert _build(cfg).frozen_teacher.checkpoint == elsewhere
    # a full run's teacher, published there, is the configs' teacher
    full = _save_teacher(str(tmp_path / 'full.pth'), kind='full')
    assert publish_digits_teacher(full) == place
    assert not glob.glob(osp.join(osp.dirname(place), '.*tmp'))
    model = _build(Config.fromfile(KD))
    saved = torch.load(full, weights_only=True)['state_dict']
    loaded = model.teacher.state_dict()
    for key, value in saved.items():
        assert torch.equal(loaded[key], value), key


def _install_copy(site):
    """The package as ``pip install .`` lays it out: setup.py's copies of
    configs, tools and the model index in ``mmenergykd/.mim``."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('mmenergykd_setup',
                                                  osp.join(REPO, 'setup.py'))
    setup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup)  # not __main__: setup() is not called
    mim_dir = osp.join(site, 'mmenergykd', '.mim')
    setup.add_mim_extension(mim_dir)
    return mim_dir


def test_installed_copy_finds_the_teacher_from_any_directory(home, tmp_path):
    mim_dir = _install_copy(str(tmp_path / 'site'))
    assert sorted(
        os.listdir(mim_dir)) == ['configs', 'model-index.yml', 'tools']
    # the generators are not shipped
    assert not glob.glob(
        osp.join(mim_dir, '**', 'generate_*.py'), recursive=True)
    copied = osp.join(mim_dir, 'configs', 'kd', osp.basename(KD))
    teacher = _save_teacher(digits_teacher_path())
    script = ('import sys; from mmengine.config import Config; '
              'from mmengine.registry import DefaultScope; '
              'from mmenergykd.registry import MODELS; '
              'cfg = Config.fromfile(sys.argv[1]); '
              'DefaultScope.get_instance("t", scope_name="mmpretrain"); '
              'm = MODELS.build(cfg.model); '
              'print("TEACHER", m.frozen_teacher.checkpoint)')
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    result = subprocess.run([sys.executable, '-c', script, copied],
                            cwd=str(elsewhere),
                            env=dict(os.environ, OMP_NUM_THREADS='1'),
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    line = result.stdout.strip().splitlines()[-1]
    assert osp.expanduser(line.split(' ', 1)[1]) == teacher
    assert 'site-packages' not in line and str(mim_dir) not in line


def test_mim_train_finds_the_digits_teacher(home, tmp_path):
    """``mim train mmenergykd <digits config>.py`` from another directory:
    the teacher is the one at the user place, not a path inside the
    package."""
    teacher = _save_teacher(digits_teacher_path())
    work = str(tmp_path / 'work')
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    result = subprocess.run([
        mim, 'train', 'mmenergykd',
        osp.basename(KD), '--work-dir', work, '--cfg-options',
        'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=64',
        'val_dataloader.dataset.indices=32',
        'test_dataloader.dataset.indices=32'
    ],
                            cwd=str(tmp_path),
                            env=dict(os.environ, OMP_NUM_THREADS='1'),
                            capture_output=True,
                            text=True,
                            timeout=300)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    # the config's own path, user-expanded where the checkpoint is loaded
    assert osp.isfile(teacher)
    assert "loaded from '~/.cache/mmenergykd/digits/teacher.pth'" in log
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
