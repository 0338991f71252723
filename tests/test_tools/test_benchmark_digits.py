# Copyright (c) mmenergykd contributors. All rights reserved.
"""Smoke test of tools/benchmark_digits.py: one epoch, three methods."""
import importlib
import json
import os.path as osp
import sys

import pytest

pytest.importorskip('sklearn')
pytest.importorskip('matplotlib')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load_tool():
    # A plain import (tools/ on sys.path) so that the benchmark's worker
    # processes, which inherit sys.path, can import it too.
    tools = osp.join(REPO, 'tools')
    if tools not in sys.path:
        sys.path.insert(0, tools)
    return importlib.import_module('benchmark_digits')


def test_parse_args_defaults_and_quick():
    tool = _load_tool()
    args = tool.parse_args([])
    assert args.seeds == 3 and args.methods == list(tool.METHODS)
    assert args.epochs == tool.config_epochs('student.py')
    assert args.teacher_epochs == tool.config_epochs('teacher.py')
    assert args.work_dir == 'work_dirs/digits_benchmark'
    assert args.threads == 1 and args.workers >= 1
    quick = tool.parse_args(['--quick'])
    assert quick.seeds == 1 and quick.epochs == tool.QUICK_EPOCHS
    assert quick.teacher_epochs == tool.QUICK_TEACHER_EPOCHS
    assert tool.parse_args(['--quick', '--seeds', '2']).seeds == 2
    with pytest.raises(SystemExit):
        tool.parse_args(['--methods', 'student,nope'])
    # every method has a config
    for config, _ in tool.METHODS.values():
        assert osp.isfile(osp.join(tool.CONFIG_DIR, config))


def test_tiny_run(tmp_path, capfd):
    tool = _load_tool()
    work_dir = tmp_path / 'bench'
    results = tool.main([
        '--epochs', '1', '--teacher-epochs', '1', '--seeds', '1', '--methods',
        'student,kd,energykd_heda,kd_random_mix', '--workers', '2',
        '--work-dir',
        str(work_dir)
    ])
    out = capfd.readouterr().out  # worker processes write to the fd
    # progress lines and the markdown table
    assert 'Teacher: training for 1 epochs' in out
    # the student alone trains next to the teacher, the rest after it
    assert ('1 student-alone run(s) started on 1 worker process next to '
            'the teacher') in out
    assert '3 runs on 2 worker processes' in out
    assert '[4/4 runs' in out
    assert '[kd seed 0] epoch   1/1 val top-1' in out
    assert '| Method | Best-epoch top-1 (%) | Last-epoch top-1 (%)' in out
    for label in ('Student alone', 'KD (T=4)', 'Energy KD + HE-DA',
                  'KD + CutMix on a random subset (control)'):
        assert f'| {label} |' in out

    saved = json.loads((work_dir / 'results.json').read_text())
    assert saved['settings']['methods'] == [
        'student', 'kd', 'energykd_heda', 'kd_random_mix'
    ]
    assert saved['settings']['seeds'] == 1
    assert saved['settings']['num_train'] == 898
    assert saved['settings']['num_val'] == 899
    assert set(saved['summary']) == {
        'student', 'kd', 'energykd_heda', 'kd_random_mix'
    }
    for name, stat in saved['summary'].items():
        assert 0 <= stat['best']['mean'] <= 100
        assert stat['best']['mean'] >= stat['last']['mean']
        assert len(stat['last_runs']) == 1
        if name != 'student':
            assert stat['gain_last']['mean'] == pytest.approx(
                stat['last']['mean'] -
                saved['summary']['student']['last']['mean'])
            assert stat['wins_last'] in (0, 1)
    run = saved['runs']['energykd_heda'][0]
    assert len(run['curve']) == 1 and len(run['val_correct_last']) == 899
    assert set(run['thresholds']) == {'loss_energykd', 'high_energy_augment'}
    groups = saved['energy_groups']
    assert groups['threshold_source'].startswith('energykd_heda')
    assert groups['thresholds'] == run['thresholds']['loss_energykd']
    assert sum(groups['val_sizes'].values()) == 899
    assert set(groups['methods']['kd']) == {'low', 'mid', 'high'}
    # the control mixes about as many images as HE-DA, chosen at random
    assert set(saved['runs']['kd_random_mix'][0]['thresholds']) == {
        'high_energy_augment'
    }
    assert saved['teacher']['trained'] is True
    assert osp.isfile(saved['teacher']['checkpoint'])
    assert results['summary'].keys() == saved['summary'].keys()

    for name in ('accuracy.png', 'energy_hist.png', 'energy_groups.png'):
        path = work_dir / name
        assert path.is_file() and path.stat().st_size > 10_000
        assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    md = (work_dir / 'results.md').read_text()
    assert md.startswith('Command: `python tools/benchmark_digits.py --epochs')
    assert '\n| Method | Best-epoch top-1 (%)' in md and 'Wall time' in md
