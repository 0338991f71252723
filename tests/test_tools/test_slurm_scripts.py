# Copyright (c) mmenergykd contributors. All rights reserved.
"""``tools/slurm_train.sh`` and ``tools/slurm_test.sh`` hand srun the
MMPretrain-style command lines (a stand-in ``srun`` records its arguments:
there is no Slurm cluster here)."""
import os
import os.path as osp
import stat
import subprocess

import pytest

from tests.helpers import REPO

FAKE_SRUN = """#!/usr/bin/env bash
printf '%s\\n' "$@" > "$SRUN_RECORD"
printf '%s\\n' "$PYTHONPATH" > "$SRUN_RECORD.pythonpath"
"""


@pytest.fixture
def fake_srun(tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text(FAKE_SRUN)
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ)
    env['PATH'] = f'{bin_dir}{os.pathsep}{env["PATH"]}'
    env['SRUN_RECORD'] = str(tmp_path / 'srun_args.txt')
    env.update(GPUS='16', GPUS_PER_NODE='8')
    return env, tmp_path / 'srun_args.txt'


def _run(script, args, env):
    subprocess.run(['bash', osp.join(REPO, 'tools', script), *args],
                   env=env,
                   check=True,
                   capture_output=True)


def test_slurm_train_command(fake_srun):
    env, record = fake_srun
    _run('slurm_train.sh', [
        'gpu', 'energykd', 'configs/energykd/res34_res18_in1k.py', 'wd',
        '--amp'
    ], env)
    args = record.read_text().split('\n')
    assert args[:2] == ['-p', 'gpu']
    for expected in ('--job-name=energykd', '--gres=gpu:8', '--ntasks=16',
                     '--ntasks-per-node=8', '--kill-on-bad-exit=1'):
        assert expected in args
    cmd = args[args.index('python'):]
    assert cmd[1] == '-u'
    assert osp.samefile(cmd[2], osp.join(REPO, 'tools', 'train.py'))
    assert cmd[3:8] == [
        'configs/energykd/res34_res18_in1k.py', '--work-dir=wd',
        '--launcher=slurm', '--amp', ''
    ]
    pythonpath = record.with_suffix('.txt.pythonpath').read_text()
    assert osp.samefile(pythonpath.split(os.pathsep)[0], REPO)


def test_slurm_test_command(fake_srun):
    env, record = fake_srun
    _run('slurm_test.sh', ['gpu', 'eval', 'cfg.py', 'ckpt.pth'], env)
    args = record.read_text().split('\n')
    cmd = args[args.index('python'):]
    assert osp.samefile(cmd[2], osp.join(REPO, 'tools', 'test.py'))
    assert cmd[3:6] == ['cfg.py', 'ckpt.pth', '--launcher=slurm']
