"""Every command the documentation shows works as written.

Each ``shell`` / ``bash`` block of the README, the docs and the config
READMEs is either run here, in the order a reader meets it, or marked with
what it needs that CI does not have (see ``markdown_pages.py`` for the
markers). The blocks run in a scratch checkout (the repository's files
linked, its own ``work_dirs``) with ``HOME`` in the scratch folder, so the
digits teacher a page stores in ``~/.cache`` never touches the user's.
"""
import os
import os.path as osp
import re
import socket
import subprocess
import sys
import time
from typing import Dict, List

import pytest

from .markdown_pages import (REPO, SHELL_LANGS, Block, fenced_blocks,
                             markdown_pages)

#: Repository entries not linked into the scratch checkout.
NOT_LINKED = {'.git', '.venv', 'work_dirs', 'data', 'checkpoints'}
#: Longest a block may take (a whole page of digits runs: about a minute).
BLOCK_TIMEOUT_S = 900


def _all_blocks() -> List[Block]:
    return [b for page in markdown_pages() for b in fenced_blocks(page)]


def _shell_blocks() -> List[Block]:
    return [b for b in _all_blocks() if b.lang in SHELL_LANGS]


def ci_run_sections() -> Dict[str, List[str]]:
    """``.ci/run``'s ``# --- README: NAME (keep identical) ---`` sections.

    Returns:
        dict[str, list[str]]: NAME -> its command lines.
    """
    sections, name = {}, None
    with open(osp.join(REPO, '.ci', 'run')) as f:
        for line in f.read().split('\n'):
            opened = re.match(r'^# --- README: (.*?) \(keep identical\) ---$',
                              line)
            if opened:
                name = opened.group(1)
                sections[name] = []
            elif line.startswith('# --- end ---'):
                name = None
            elif name is not None and line.strip():
                sections[name].append(line.strip())
    return sections


def _command_lines(text: str) -> List[str]:
    return [
        line.strip() for line in text.split('\n')
        if line.strip() and not line.strip().startswith('#')
    ]


def with_small_settings(text: str, args: str) -> str:
    """A block with small settings appended to its tool commands.

    Args:
        text (str): The block as written (``\\`` continuations allowed).
        args (str): The marker's arguments. When they start with a tool
            (``tools/train.py --cfg-options ...``), the rest is appended to
            that tool's commands only; otherwise to every ``python tools/...``
            and ``bash tools/...`` command.

    Returns:
        str: The script to run.
    """
    tool = r'\S+'
    first, _, rest = args.partition(' ')
    if first.startswith('tools/'):
        tool, args = re.escape(first), rest
    lines = []
    for line in text.replace('\\\n', ' ').split('\n'):
        if re.match(rf'^\s*(python|bash) {tool}(\s|$)', line) and \
                re.match(r'^\s*(python|bash) tools/', line):
            command, hash_, comment = line.partition(' #')
            line = f'{command.rstrip()} {args}' + (f' {hash_.strip()}{comment}'
                                                   if hash_ else '')
        lines.append(line)
    return '\n'.join(lines)


def test_every_fence_names_its_language():
    unnamed = [b.where for b in _all_blocks() if not b.lang]
    assert not unnamed, ('fenced blocks without a language (commands go in '
                         f'```shell blocks): {unnamed}')


def test_every_shell_block_is_run_or_marked():
    blocks = _shell_blocks()
    run = [b for b in blocks if b.marker is None or b.marker[0] == 'with']
    marked = [b for b in blocks if b.marker and b.marker[0] == 'skip']
    by_ci = [b for b in blocks if b.marker and b.marker[0] == 'ci']
    assert len(run) + len(marked) + len(by_ci) == len(blocks)
    assert not [b.where for b in marked if not b.marker[1]], \
        'a "not run in CI" marker must say what the commands need'
    assert not [b.where for b in run if b.marker and not b.marker[1]]
    # Markers belong to shell blocks only.
    stray = [
        b.where for b in _all_blocks()
        if b.marker and b.lang not in SHELL_LANGS
    ]
    assert not stray, f'markers before blocks that are not shell: {stray}'
    assert len(run) >= 10, [b.where for b in run]
    print(f'\n{len(blocks)} shell blocks: {len(run)} run here, '
          f'{len(by_ci)} run by .ci/run, {len(marked)} marked not run')


def test_ci_blocks_match_ci_run():
    sections = ci_run_sections()
    assert {'Install and test', 'Docs', 'Lint'} <= set(sections)
    named = {}
    for block in _shell_blocks():
        if block.marker and block.marker[0] == 'ci':
            name = block.marker[1]
            assert name in sections, f'{block.where}: no section {name!r}'
            assert _command_lines(block.text) == sections[name], \
                f'{block.where} differs from .ci/run\'s {name!r} section'
            named.setdefault(name, []).append(block.page)
    assert set(named) == set(sections), \
        f'.ci/run sections without a documented block: ' \
        f'{set(sections) - set(named)}'
    assert all('README.md' in pages for pages in named.values()), named


def test_small_settings_append_to_tool_commands_only():
    block = ('python tools/train.py A.py \\\n    --x 1  # note\n'
             'python tools/export_student.py A.py B C\ncp a b\n')
    lines = with_small_settings(block, '--y 2').split('\n')
    assert lines[0].split() == \
        'python tools/train.py A.py --x 1 --y 2 # note'.split()
    assert lines[1] == 'python tools/export_student.py A.py B C --y 2'
    assert lines[2] == 'cp a b'
    lines = with_small_settings(block, 'tools/train.py --y 2').split('\n')
    assert lines[0].split()[-4:] == ['--y', '2', '#', 'note']
    assert lines[1] == 'python tools/export_student.py A.py B C'


@pytest.fixture(scope='module')
def checkout(tmp_path_factory):
    """A scratch checkout: the repository's files linked, its own
    ``work_dirs`` and ``HOME``."""
    root = tmp_path_factory.mktemp('checkout')
    for name in os.listdir(REPO):
        if name not in NOT_LINKED:
            os.symlink(osp.join(REPO, name), root / name)
    (root / 'home').mkdir()
    return root


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _environment(root) -> Dict[str, str]:
    env = dict(os.environ)
    env.pop('MMENERGYKD_DIGITS_TEACHER', None)
    # One thread per process: the digits networks are too small to gain
    # from more, and OpenMP threads slow down badly on busy cores (as in
    # tools/benchmark_digits.py).
    env.update(
        HOME=str(root / 'home'),
        MPLBACKEND='Agg',
        OMP_NUM_THREADS='1',
        PORT=str(_free_port()),  # tools/dist_train.sh's torchrun port
        PATH=osp.dirname(sys.executable) + os.pathsep + env.get('PATH', ''))
    return env


def test_documented_commands_run(checkout):
    """Run every runnable block, in reading order, and report the time."""
    env, timings = _environment(checkout), []
    for block in _shell_blocks():
        if block.marker and block.marker[0] in ('skip', 'ci'):
            continue
        script = block.text if block.marker is None else \
            with_small_settings(block.text, block.marker[1])
        start = time.monotonic()
        done = subprocess.run(['bash', '-euo', 'pipefail', '-c', script],
                              cwd=checkout,
                              env=env,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT,
                              text=True,
                              timeout=BLOCK_TIMEOUT_S)
        timings.append((block.where, time.monotonic() - start))
        assert done.returncode == 0, (
            f'{block.where} failed (exit {done.returncode}):\n{script}\n'
            f'--- output (last 4000 characters) ---\n{done.stdout[-4000:]}')
    total = sum(t for _, t in timings)
    print('\n' + '\n'.join(f'{t:6.1f} s  {w}' for w, t in timings) +
          f'\n{total:6.1f} s  {len(timings)} blocks')
    assert len(timings) >= 10
