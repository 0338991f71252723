# Copyright (c) mmenergykd contributors. All rights reserved.
"""tools/benchmark_digits.py: the command line, the paired statistics
(recomputed here from results.json), tiny balanced and long-tailed runs,
smoke-test marks, the timing split, and the teacher bank against the live
teacher (same accuracies for the same seed)."""
import json
import math
import os.path as osp

import numpy as np
import pytest

from tests.test_tools.tool_import import import_tool_module

pytest.importorskip('sklearn')
pytest.importorskip('matplotlib')

# t(0.975, df) from a printed table (df = 1, 2, 3, 4), for the independent
# recomputation of the intervals
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776}


def _load(module=''):
    # tools/ on sys.path, as `python tools/benchmark_digits.py` has it: the
    # benchmark's spawned worker processes inherit sys.path and import the
    # functions they run by name (analysis_tools.digits_benchmark.runs).
    name = 'analysis_tools.digits_benchmark'
    return import_tool_module(name + ('.' + module if module else ''))


def _paired_ci(values, reference):
    """Paired t interval written out: mean(d) +- t * sd(d) / sqrt(n)."""
    d = [v - r for v, r in zip(values, reference)]
    n = len(d)
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean)**2 for x in d) / (n - 1))
    half = T975[n - 1] * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def test_parse_args_defaults_and_quick():
    tool = _load()
    args = tool.parse_args([])
    assert args.seeds == tool.DEFAULT_SEEDS >= 10
    assert args.methods == list(tool.METHODS)
    assert args.epochs == tool.config_epochs(tool.STUDENT_CONFIG)
    assert args.teacher_epochs == tool.config_epochs(tool.TEACHER_CONFIG)
    assert args.work_dir == 'work_dirs/digits_benchmark'
    assert not args.long_tailed and not args.no_bank
    assert args.threads == 1 and args.workers >= 1
    quick = tool.parse_args(['--quick'])
    assert quick.seeds == 1 and quick.epochs == tool.QUICK_EPOCHS
    assert quick.teacher_epochs == tool.QUICK_TEACHER_EPOCHS
    # a --quick run keeps its shortened teacher in a work dir of its own
    assert quick.work_dir == 'work_dirs/digits_benchmark_quick'
    settings = _load('settings')
    assert settings.run_kind(args) == 'full'
    assert settings.run_kind(quick) == 'quick'
    assert settings.run_kind(tool.parse_args(['--teacher-epochs', '2'])) == \
        'custom'
    assert tool.parse_args(['--quick', '--seeds', '2']).seeds == 2
    lt = tool.parse_args(['--long-tailed'])
    assert lt.long_tailed and lt.imbalance_ratio == tool.DEFAULT_IMBALANCE
    assert lt.work_dir == 'work_dirs/digits_benchmark_lt'
    assert settings.run_kind(lt) == 'long-tailed'
    assert tool.parse_args(['--quick', '--long-tailed']).work_dir == \
        'work_dirs/digits_benchmark_lt_quick'
    # 292 training images: twice the epochs, evaluated every other epoch
    assert (lt.epochs, lt.teacher_epochs) == (2 * args.epochs,
                                              2 * args.teacher_epochs)
    for bad in (['--methods', 'student,nope'], ['--imbalance-ratio', '0.5']):
        with pytest.raises(SystemExit):
            tool.parse_args(bad)
    for config, _ in tool.METHODS.values():
        assert osp.isfile(osp.join(tool.CONFIG_DIR, config))


def test_paired_difference_against_written_out_t():
    stats = _load('statistics')
    values, reference = [97.0, 96.5, 98.0], [96.0, 96.5, 96.0]
    out = stats.paired_difference(values, reference)
    mean, low, high = _paired_ci(values, reference)
    assert out['mean'] == pytest.approx(mean)
    assert out['ci'] == pytest.approx([low, high], abs=2e-3)
    assert (out['above'], out['below'], out['ties']) == (2, 0, 1)
    # 1 +- 4.303 * 1 / sqrt(3) contains 0
    assert out['verdict'] == 'no detectable difference'
    # (t(0.975, 2) + t(0.80, 2)) * s_d / sqrt(n), t(0.80, 2) = 1.061
    assert out['detectable'] == pytest.approx(
        (4.303 + 1.061) / math.sqrt(3), abs=2e-3)
    assert stats.paired_difference([2, 2.1, 1.9], [0, 0, 0])['verdict'] == \
        'better'
    assert stats.paired_difference([0, 0, 0], [2, 2.1, 1.9])['verdict'] == \
        'worse'
    one = stats.paired_difference([97.0], [96.0])
    assert one['ci'] is None and one['detectable'] is None
    assert stats.mean_std([96.0])['std'] is None  # no spread for one seed
    # head / medium / tail by training count
    assert stats.class_groups_of([87, 62, 44, 32, 22, 16, 11, 8, 6, 4]) == \
        [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]


def _check_statistics(saved):
    """Every interval and verdict of results.json, recomputed from the
    per-seed accuracies it holds."""
    runs = saved['runs']
    seeds = saved['settings']['seed_list']
    for name, stat in saved['summary'].items():
        assert [r['seed'] for r in runs[name]] == seeds
        last = [r['last'] for r in runs[name]]
        assert stat['last_runs'] == last
        for run in runs[name]:  # the last evaluation's per-image record
            assert 100 * np.mean(run['val_correct_last']) == \
                pytest.approx(run['last'], abs=1e-3)
        for ref in ('student', 'kd'):
            if ref == name or name == 'student':
                assert f'vs_{ref}' not in stat
                continue
            diff = stat[f'vs_{ref}']['last']
            mean, low, high = _paired_ci(last, [r['last'] for r in runs[ref]])
            assert diff['mean'] == pytest.approx(mean)
            assert diff['ci'] == pytest.approx([low, high], abs=2e-3)
            assert diff['n'] == len(seeds)
            want = 'better' if low > 0 else 'worse' if high < 0 else \
                'no detectable difference'
            assert diff['verdict'] == want


def _teacher_meta(path):
    import torch
    return torch.load(path, map_location='cpu', weights_only=True)['meta']


def test_tiny_run(tmp_path, capfd, monkeypatch):
    tool = _load()
    work_dir = tmp_path / 'bench'
    # where the digits configs look for their teacher, for this test only
    published = tmp_path / 'cache' / 'teacher.pth'
    monkeypatch.setenv('MMENERGYKD_DIGITS_TEACHER', str(published))
    # the 1-epoch teacher stands for a full run (its config's own epochs)
    settings = _load('settings')
    monkeypatch.setattr(settings, 'config_epochs', lambda config: 1)
    results = tool.main([
        '--epochs', '2', '--evaluations', '1', '--teacher-epochs', '1',
        '--seeds', '2', '--methods', 'student,kd,energykd_heda', '--workers',
        '2', '--work-dir',
        str(work_dir)
    ])
    out = capfd.readouterr().out  # worker processes write to the fd
    assert 'Teacher: training for 1 epochs' in out
    assert f'Teacher: stored for the digits configs as {published}' in out
    assert ('2 student-alone run(s) started on 1 worker process next to '
            'the teacher') in out
    assert '[6/6 runs' in out
    header = ('| Method | Last-epoch top-1 (%) | Best-epoch top-1 (%) | '
              'Δ vs student alone, last |')
    assert header in out and 'SMOKE TEST' not in out
    for label in ('Student alone', 'KD (T=4)', 'Energy KD + HE-DA'):
        assert f'| {label} |' in out

    saved = json.loads((work_dir / 'results.json').read_text())
    assert saved['settings']['seeds'] == 2
    assert saved['settings']['smoke_test'] is False
    assert saved['settings']['num_train'] == 898
    assert saved['settings']['num_val'] == 899
    _check_statistics(saved)
    run = saved['runs']['energykd_heda'][0]
    assert set(run['thresholds']) == {'loss_energykd', 'high_energy_augment'}
    # where the time went: the parts add up to the run's time
    parts = run['timing']
    assert set(parts) == set(_load('timing').PARTS)
    assert sum(parts.values()) == pytest.approx(run['seconds'], rel=0.02)
    assert parts['teacher'] > 0 and parts['student'] > 0
    assert saved['timing']['student']['teacher'] == 0
    groups = saved['energy_groups']
    assert sum(groups['val_sizes'].values()) == 899
    assert groups['methods']['kd']['high']['n'] == 2
    assert results['summary'].keys() == saved['summary'].keys()
    # the full run's teacher, with its run kind, where the configs look
    teacher = saved['teacher']['checkpoint']
    assert saved['teacher']['run_kind'] == 'full'
    assert saved['teacher']['published'] is True
    assert published.read_bytes() == open(teacher, 'rb').read()
    assert _teacher_meta(str(published))['run_kind'] == 'full'
    for name in ('accuracy.png', 'energy_hist.png', 'energy_groups.png'):
        assert (work_dir / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    md = (work_dir / 'results.md').read_text()
    assert md.startswith('Command: `python tools/benchmark_digits.py --epochs')
    assert 'paired-t interval' in md and 'Seconds per run' in md

    # The fast path (teacher bank, unformatted configs, unserialized
    # dataset, fewer evaluations) and the plain pipeline (--plain: the live
    # teacher in every step, MMEngine's defaults, an evaluation after every
    # epoch) give the same accuracies for the same seed, HE-DA included (its
    # mixed images run the live teacher in both).
    assert saved['settings']['teacher_bank'] is True
    assert saved['settings']['val_interval'] == 2
    assert 'evaluations (one, at the end)' in md
    plain = tool.main([
        '--epochs', '2', '--seeds', '1', '--methods', 'kd,energykd_heda',
        '--workers', '1', '--plain', '--teacher-ckpt',
        saved['teacher']['checkpoint'], '--work-dir',
        str(tmp_path / 'plain')
    ])
    assert plain['settings']['teacher_bank'] is False
    assert plain['settings']['plain'] is True
    assert plain['settings']['val_interval'] == 1
    for name in ('kd', 'energykd_heda'):
        fast, live = saved['runs'][name][0], plain['runs'][name][0]
        assert fast['seed'] == live['seed'] == 0
        assert (fast['curve_epochs'], live['curve_epochs']) == ([2], [1, 2])
        assert fast['curve'] == live['curve'][1:]
        assert fast['val_correct_last'] == live['val_correct_last']
        assert fast['thresholds'].keys() == live['thresholds'].keys()
        for key, pair in fast['thresholds'].items():
            assert pair == pytest.approx(live['thresholds'][key], abs=1e-6)
    # the bank took the teacher's forwards out of the KD steps
    assert saved['runs']['kd'][0]['timing']['teacher'] < \
        plain['runs']['kd'][0]['timing']['teacher']


def test_tiny_long_tailed_quick_run(tmp_path, capfd, monkeypatch):
    tool = _load()
    work_dir = tmp_path / 'lt'
    configs_teacher = tmp_path / 'cache' / 'teacher.pth'
    monkeypatch.setenv('MMENERGYKD_DIGITS_TEACHER', str(configs_teacher))
    tool.main([
        '--quick', '--long-tailed', '--epochs', '1', '--teacher-epochs', '1',
        '--seeds', '2', '--methods', 'student,kd', '--workers', '1',
        '--no-bank', '--work-dir',
        str(work_dir)
    ])
    out = capfd.readouterr().out
    assert 'SMOKE TEST (--quick)' in out and 'Digits-LT benchmark' in out
    saved = json.loads((work_dir / 'results.json').read_text())
    # a --quick run never becomes the configs' teacher: it stays in the
    # work dir, marked as such
    assert not configs_teacher.exists()
    assert saved['teacher']['published'] is False
    assert _teacher_meta(saved['teacher']['checkpoint'])['run_kind'] == \
        'quick'
    settings = saved['settings']
    assert settings['smoke_test'] is True and settings['long_tailed'] is True
    assert settings['train_class_counts'] == [
        87, 62, 44, 32, 22, 16, 11, 8, 6, 4
    ]
    assert settings['num_train'] == 292 and settings['num_val'] == 899
    _check_statistics(saved)
    classes = saved['class_groups']
    # digits 0-2 have the most training images, 7-9 the fewest
    assert classes['class_group'] == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
    val_y = np.array(
        _load('runs').dataset_labels(
            dict(
                type='SklearnDigits', split='val', scale_factor=2,
                pipeline=[])))
    group = np.array(classes['class_group'])[val_y]
    assert classes['val_sizes'] == {
        'head': int((val_y <= 2).sum()),
        'medium': int(((val_y >= 3) & (val_y <= 6)).sum()),
        'tail': int((val_y >= 7).sum())
    }
    # per-group accuracy recomputed from the per-image record
    run = saved['runs']['kd'][1]
    correct = np.array(run['val_correct_last'], bool)
    assert run['class_group_acc_last']['tail'] == pytest.approx(
        100 * correct[group == 2].mean())
    md = (work_dir / 'results.md').read_text()
    assert md.startswith('**SMOKE TEST') and '| Method (SMOKE TEST) |' in md
    assert 'by class group' in md


def test_smoke_mark_on_every_plot(tmp_path):
    plots = _load('plots')
    plt = plots._pyplot()
    fig = plt.figure()
    plots.smoke_mark(fig, dict(settings=dict(smoke_test=True)))
    assert any('SMOKE TEST' in t.get_text() for t in fig.texts)
    plt.close(fig)
    source = open(plots.__file__).read()
    assert source.count('smoke_mark(fig, results)') == 3


def _fake_results(interval, epochs=6, with_epochs=True):
    runs = {}
    for method in ('kd', 'energykd'):
        runs[method] = []
        for seed in (0, 1):
            full = [50.0 + seed + e + (method == 'kd') for e in range(epochs)]
            picked = list(range(interval, epochs + 1, interval))
            run = dict(
                seed=seed,
                curve=[full[e - 1] for e in picked],
                last=full[-1],
                val_correct_last=[1, 0, seed],
                thresholds={'loss_energykd': [-3.0, -1.0 + seed]})
            if with_epochs:
                run['curve_epochs'] = picked
            runs[method].append(run)
    return dict(
        settings=dict(command='x', epochs=epochs, val_interval=interval),
        runs=runs)


def test_check_against_compares_run_by_run(tmp_path, capsys):
    check = _load('check')
    fast = _fake_results(interval=3)
    # an earlier release's results: no curve_epochs, every epoch evaluated
    plain = _fake_results(interval=1, with_epochs=False)
    same = check.compare_runs(fast, plain)
    assert same['identical'] and len(same['rows']) == 4
    assert all(r['curve_points'] == 2 for r in same['rows'])  # epochs 3, 6
    assert same['max_abs_diff'] == 0 and same['unmatched'] == []

    # runs only one side has are listed, not compared; none in common is
    # said as such, not as a difference
    subset = json.loads(json.dumps(plain))
    subset['runs']['kd'] = subset['runs']['kd'][:1]
    partial = check.compare_runs(fast, subset)
    assert partial['identical'] and len(partial['rows']) == 3
    assert partial['unmatched'] == ['kd/1']
    assert '1 run(s) in one file only, not compared: kd/1.' in \
        check.check_table(partial, {})
    disjoint = check.compare_runs(
        fast,
        dict(settings=plain['settings'], runs={'dkd': plain['runs']['kd']}))
    assert not disjoint['identical'] and disjoint['rows'] == []
    assert 'no run (method and seed) in common' in \
        check.check_table(disjoint, {})

    plain['runs']['energykd'][1]['curve'][2] += 0.11  # epoch 3 differs
    plain['runs']['kd'][0]['last'] += 0.5
    plain['runs']['kd'][1]['val_correct_last'][0] = 0
    plain['runs']['energykd'][0]['thresholds']['loss_energykd'][1] += 1e-3
    diff = check.compare_runs(fast, plain)
    rows = {(r['method'], r['seed']): r for r in diff['rows']}
    assert not diff['identical'] and diff['max_abs_diff'] == 0.5
    assert not rows[('energykd', 1)]['curve_equal']
    assert rows[('kd', 0)]['last'] != rows[('kd', 0)]['other_last']
    assert not rows[('kd', 1)]['same_images']
    assert not rows[('energykd', 0)]['thresholds_equal']
    assert [r['identical'] for r in diff['rows']] == [False] * 4

    a, b = tmp_path / 'a.json', tmp_path / 'b.json'
    a.write_text(json.dumps(fast))
    b.write_text(json.dumps(plain))
    assert check.main([str(a), str(a)]) == 0
    assert check.main([str(a), str(b)]) == 1
    assert 'runs DIFFER: largest last-epoch difference 0.50' in \
        capsys.readouterr().out


def test_run_jobs_never_trains_more_runs_than_workers(monkeypatch):
    # Real scheduling code, fake runs: threads stand in for the worker
    # processes and record how many runs train at once, and where.
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor
    bench = _load('benchmark')
    lock = threading.Lock()
    state = dict(now=0, peak=0, where={})

    def fake_run_job(job):
        with lock:
            state['now'] += 1
            state['peak'] = max(state['peak'], state['now'])
            state['where'][(job['method'], job['seed'])] = \
                threading.current_thread().name
        time.sleep(0.03)
        with lock:
            state['now'] -= 1
        return dict(
            method=job['method'],
            seed=job['seed'],
            best=1.0,
            best_epoch=1,
            last=1.0,
            seconds=0.0)

    monkeypatch.setattr(bench, 'run_job', fake_run_job)
    monkeypatch.setattr(
        bench, 'spawn_pool',
        lambda n: ThreadPoolExecutor(n, thread_name_prefix='pool'))
    early = ThreadPoolExecutor(1, thread_name_prefix='early')
    early_futures = [
        early.submit(fake_run_job, dict(method='student', seed=s))
        for s in range(3)
    ]
    jobs = [dict(method='kd', seed=s) for s in range(8)]
    done = bench.run_jobs(jobs, (early, early_futures), 2, 1, time.time())
    early.shutdown()
    assert len(done) == 11
    assert state['peak'] == 2  # two workers, both busy, never three
    # the early worker takes distillation runs once its own are done
    assert any(state['where'][('kd', s)].startswith('early') for s in range(8))

    # --teacher-ckpt: no early worker, one pool of --workers processes
    state.update(now=0, peak=0, where={})
    done = bench.run_jobs(jobs, None, 3, 1, time.time())
    assert len(done) == 8 and state['peak'] == 3
