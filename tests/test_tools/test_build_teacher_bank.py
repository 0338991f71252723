# Copyright (c) mmenergykd contributors. All rights reserved.
"""tools/build_teacher_bank.py as users run it: a build, ``--verify`` (its
exit code and messages), and the commands its refusals name, run in a shell
as printed."""
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmenergykd.models.teacher_bank import TeacherBank
from tests.helpers import REPO
from tests.test_apis.bank_setup import build, damaged_copy, make_setup
from tests.test_tools.tool_import import import_tool_module

TOOL = osp.join(REPO, 'tools', 'build_teacher_bank.py')
ROW = 162 * 100 * 4  # bytes of one sample of the fp32 bank
COMMAND = re.compile(r'(?:rm -r \S+ && )?python tools/build_teacher_bank\.py'
                     r'[^\n]*')


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    setup = make_setup(str(tmp_path_factory.mktemp('clibank')))
    setup['bank'] = build(setup['config'], osp.join(setup['root'], 'bank'))
    return setup


def _env():
    return dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')


def _run(args):
    return subprocess.run([sys.executable, TOOL, *args],
                          capture_output=True,
                          text=True,
                          cwd=REPO,
                          env=_env())


def _shell(command):
    """``command`` as printed, in a shell in the repository (where
    ``python tools/...`` is found); ``python`` is this interpreter."""
    assert command.count('python tools/build_teacher_bank.py') == 1
    command = command.replace('python tools/', f'{sys.executable} tools/')
    return subprocess.run(['bash', '-c', command],
                          capture_output=True,
                          text=True,
                          cwd=REPO,
                          env=_env())


def _verify(capsys, *args):
    """``--verify`` in this process: (exit code, stdout, stderr)."""
    code = import_tool_module('build_teacher_bank').main(['--verify', *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _logits(bank):
    with open(osp.join(bank, 'logits.bin'), 'rb') as f:
        return f.read()


def test_command_line(setup, capsys):
    """A build in a fresh process, with --cfg-options."""
    out = osp.join(setup['root'], 'cli')
    result = _run([
        setup['config'], '--out', out, '--device', 'cpu', '--cfg-options',
        'train_dataloader.dataset.indices=3'
    ])
    assert result.returncode == 0, result.stderr[-3000:]
    assert '3 samples x 162 views x 100 classes, float16, 0.1 MiB' in \
        result.stdout
    assert 'Teacher bank complete' in result.stdout
    cfg = Config.fromfile(setup['config'])
    cfg.train_dataloader.dataset.indices = 3
    bank = TeacherBank.open(out, expect=TeacherBank.expect_from_config(cfg))
    assert bank.array.shape == (3, 162, 100)
    header = bank.header
    assert header['cfg_options'] == {'train_dataloader.dataset.indices': 3}
    code, printed, errors = _verify(capsys, out, setup['config'],
                                    '--cfg-options',
                                    'train_dataloader.dataset.indices=3')
    assert code == 0, errors
    assert 'OK, 1 chunks' in printed


def test_verify_then_the_named_repair(setup, tmp_path, capsys):
    bad = damaged_copy(setup['bank'], str(tmp_path / 'bad'), 6 * ROW + 8)
    assert _verify(capsys, setup['bank'])[0] == 0
    code, _, errors = _verify(capsys, bad)
    assert code == 1
    assert 'chunk 1: samples 5..9 (logits.bin)' in errors
    # the command names the config that built the bank and its settings
    command = COMMAND.search(errors).group(0)
    assert command.endswith('--dtype fp32 --chunk-size 5 --resume')
    repaired = _shell(command)
    assert repaired.returncode == 0, repaired.stderr[-3000:]
    assert 'to do (1/3 chunks)' in repaired.stdout
    assert _verify(capsys, bad, setup['config'])[0] == 0
    assert _logits(bad) == _logits(setup['bank'])
    # a bank of another teacher does not fit the config
    code, _, errors = _verify(capsys, bad, setup['other_config'])
    assert code == 1 and 'teacher.checkpoint_sha256' in errors


def test_truncated_and_old_banks_rebuilt_by_the_named_command(
        setup, tmp_path, capsys):
    truncated = str(tmp_path / 'truncated')
    shutil.copytree(setup['bank'], truncated)
    os.truncate(osp.join(truncated, 'logits.bin'), 3 * ROW)
    old = str(tmp_path / 'old')
    shutil.copytree(setup['bank'], old)
    with open(osp.join(old, 'header.json')) as f:
        header = json.load(f)
    header.pop('checksums')
    header['version'] = 1
    with open(osp.join(old, 'header.json'), 'w') as f:
        json.dump(header, f)
    for bank, words in ((truncated, 'truncated'), (old, 'version 1')):
        code, _, errors = _verify(capsys, bank)
        assert code == 1 and words in errors, errors
        command = COMMAND.search(errors).group(0)
        rebuilt = _shell(command)
        assert rebuilt.returncode == 0, (command, rebuilt.stderr[-3000:])
        assert _verify(capsys, bank)[0] == 0
        assert _logits(bank) == _logits(setup['bank'])


def test_arguments(capsys):
    tool = import_tool_module('build_teacher_bank')
    with pytest.raises(SystemExit) as info:  # neither CONFIG --out nor
        tool.parse_args([])  # --verify
    assert info.value.code == 2
    assert 'CONFIG and --out are required' in capsys.readouterr().err
    code, _, errors = _verify(capsys, '/nonexistent/bank')
    assert code == 1 and 'No teacher bank at' in errors
