# Copyright (c) mmenergykd contributors. All rights reserved.
"""One switch for the teacher bank: ``--cfg-options model.teacher_bank=BANK``
on a shipped config (Energy KD on digits: energy calibration, then one
epoch), under our tools/train.py, MMPretrain's own and ``mim train``,
equals the run with the live teacher; a bank of another teacher is refused
before anything is written; a user config inheriting ours through
``mmenergykd::`` uses the same bank."""
import glob
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import mmpretrain
import pytest
from mmengine.config import Config

from mmenergykd.apis import build_teacher_bank
from tests.helpers import CONFIGS, REPO, save_teacher_for
from tests.test_tools.tool_import import import_tool_module

pytest.importorskip('sklearn')

TRAIN = osp.join(REPO, 'tools', 'train.py')
MMPRETRAIN_TRAIN = osp.join(
    osp.dirname(mmpretrain.__file__), '.mim', 'tools', 'train.py')
MIM = osp.join(osp.dirname(sys.executable), 'mim')
TEACHER_ENV = 'MMENERGYKD_DIGITS_TEACHER'
#: A short run: 128 training images (2 steps of 64), 64 validation images.
SMALL = {
    'train_cfg.max_epochs': 1,
    'train_dataloader.dataset.indices': 128,
    'val_dataloader.dataset.indices': 64,
    'default_hooks.logger.interval': 1,
}
#: What the training config and the bank must agree on.
BANK_OPTIONS = {'train_dataloader.dataset.indices': 128}


def _config():
    found = glob.glob(
        osp.join(CONFIGS, '**',
                 'energykd_cifarresnet20_cifarresnet8_*_digits.py'),
        recursive=True)
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('digits_bank')
    config = _config()
    teacher = save_teacher_for(
        Config.fromfile(config), str(root / 'teacher.pth'), seed=0)
    other = save_teacher_for(
        Config.fromfile(config), str(root / 'other.pth'), seed=1)
    bank = str(root / 'bank')
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TEACHER_ENV, teacher)  # the configs' teacher
        build_teacher_bank(
            config,
            bank,
            dtype='fp32',
            device='cpu',
            cfg_options=dict(BANK_OPTIONS))
    return dict(
        root=root, config=config, teacher=teacher, other=other, bank=bank)


def _run(command, cwd, teacher):
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1',
        **{TEACHER_ENV: teacher})
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _options(bank=None):
    options = [f'{k}={v}' for k, v in SMALL.items()]
    return options + ([f'model.teacher_bank={bank}'] if bank else [])


def _scalars(work_dir):
    """Every logged training step, the validation result and the energy
    calibration (thresholds and group counts)."""
    (path, ) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    rows = [json.loads(line) for line in open(path)]
    steps = {
        row['step']: {
            k: v
            for k, v in row.items() if k.startswith(('loss', 'energy_'))
        }
        for row in rows if 'loss' in row
    }
    val = [row for row in rows if 'accuracy/top1' in row]
    (calibration, ) = [
        row for row in rows if 'energy_calibration/num_samples' in row
    ]
    return steps, val, calibration


def _train(setup, name, command):
    work = str(setup['root'] / name)
    result = _run(command + ['--work-dir', work], str(setup['root']),
                  setup['teacher'])
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return work, result.stdout + result.stderr


@pytest.fixture(scope='module')
def live(setup):
    work, _ = _train(
        setup, 'live',
        [sys.executable, TRAIN, setup['config'], '--cfg-options'] + _options())
    return _scalars(work)


def _equal(banked, live):
    steps, val, calibration = banked
    live_steps, live_val, live_calibration = live
    assert calibration['energy_calibration/num_samples'] == 128
    assert calibration == pytest.approx(live_calibration, rel=1e-6)
    assert sorted(steps) == sorted(live_steps) == [1, 2]
    for step, row in live_steps.items():
        assert 'loss_energykd' in row and 'energy_low' in row, row
        assert set(steps[step]) == set(row)
        for key, value in row.items():
            assert steps[step][key] == pytest.approx(
                value, rel=1e-5, abs=1e-6), (step, key)
    assert len(val) == len(live_val) == 1
    assert val[0]['accuracy/top1'] == live_val[0]['accuracy/top1']


@pytest.mark.parametrize('launcher', ['ours', 'mmpretrain'])
def test_one_switch_equals_the_live_run(setup, live, launcher):
    script = TRAIN if launcher == 'ours' else MMPRETRAIN_TRAIN
    work, log = _train(
        setup, f'bank_{launcher}',
        [sys.executable, script, setup['config'], '--cfg-options'] +
        _options(setup['bank']))
    assert 'match their checksums' in log and 'Teacher logits from' in log
    assert 'Energy calibration' in log
    _equal(_scalars(work), live)


def test_mim_train_of_a_config_inheriting_ours(setup, live):
    """``mim train mmpretrain`` (MMPretrain's own tools/train.py) on a user
    config that inherits the shipped one through ``mmenergykd::``: its dicts
    carry ``_scope_='mmenergykd'``, and the same bank is accepted."""
    user = setup['root'] / 'user_digits.py'
    inherited = osp.relpath(setup['config'], CONFIGS)
    user.write_text(f"_base_ = ['mmenergykd::{inherited}']\n")
    assert Config.fromfile(
        str(user)).train_dataloader.dataset['_scope_'] == 'mmenergykd'
    work, log = _train(
        setup, 'bank_mim',
        [MIM, 'train', 'mmpretrain',
         str(user), '--cfg-options'] + _options(setup['bank']))
    assert 'mmpretrain/.mim/tools/train.py' in log  # MMPretrain's own tool
    assert 'match their checksums' in log
    _equal(_scalars(work), live)


def test_bank_of_another_teacher_refused_before_anything_is_written(
        setup, capsys, monkeypatch):
    bank = str(setup['root'] / 'bank_copy')
    shutil.copytree(setup['bank'], bank)
    work = str(setup['root'] / 'other_teacher')
    result = _run([
        sys.executable, TRAIN, setup['config'], '--work-dir', work,
        '--cfg-options'
    ] + _options(bank), str(setup['root']), setup['other'])
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert 'does not fit this config' in log
    assert 'teacher.checkpoint_sha256' in log
    assert not glob.glob(osp.join(work, '*.pth'))
    assert 'Energy calibration' not in log
    # The command it names rebuilds the bank for this run: --cfg-options
    # changed the dataset, so it names the run's merged config (dumped by
    # MMEngine into the work dir).
    command = re.search(
        r'rm -r \S+ && python tools/build_teacher_bank\.py[^\n]*',
        log).group(0)
    dumped = osp.join(work, osp.basename(setup['config']))
    assert f'{dumped} --out {bank} --dtype fp32' in command
    rebuilt = _run([
        'bash', '-c',
        command.replace('python tools/', f'{sys.executable} tools/')
    ], REPO, setup['other'])
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    tool = import_tool_module('build_teacher_bank')
    assert tool.main(['--verify', bank, dumped]) == 0
    monkeypatch.setenv(TEACHER_ENV, setup['teacher'])
    assert tool.main(['--verify', bank, setup['config']]) == 1
    assert 'teacher.checkpoint_sha256' in capsys.readouterr().err
