# Copyright (c) mmenergykd contributors. All rights reserved.
"""The reproduction kit (tools/reproduce/): plan, run, resume, collect.

The end-to-end test trains real configs (ResNet56 -> ResNet20 KD and Energy
KD, with a ResNet14 teacher / ResNet8 student swapped in through
``--cfg-options``) for 3 short epochs on a tiny CIFAR-100-format dataset,
kills one run half-way, restarts the kit, and checks the table against the
scalars.json files MMEngine wrote.
"""
import glob
import json
import os
import os.path as osp
import signal
import statistics
import subprocess
import sys
import time

import pytest

from tests.helpers import make_cifar100_folder
from tests.test_tools.tool_import import import_tool_module

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KIT = osp.join(REPO, 'tools', 'reproduce')
PAIR = 'resnet56_resnet20'
MAX_EPOCHS = 3


def _kit(module: str):
    # the kit's modules import each other by name, as when run as scripts
    return import_tool_module(module, KIT)


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env.pop('CUDA_VISIBLE_DEVICES', None)
    return env


def _tiny_options(data_root: str) -> list:
    options = [
        'model.student=mmenergykd::_base_/models/cifar100/resnet8.py',
        'model.teacher=mmenergykd::_base_/models/cifar100/resnet14.py',
        'model.teacher_ckpt=None', 'model.teacher_settings.allow_random=True',
        f'train_cfg.max_epochs={MAX_EPOCHS}', 'train_dataloader.batch_size=25',
        'val_dataloader.batch_size=50', 'log_level=WARNING',
        'default_hooks.checkpoint.interval=1'
    ]
    for loader in ('train_dataloader', 'val_dataloader'):
        options += [
            f'{loader}.dataset.data_root={data_root}',
            # tiny local files: no md5 check, never a download
            f'{loader}.dataset.type=CIFAR100LT',
            f'{loader}.dataset.check_md5=False',
            f'{loader}.dataset.imb_factor=1',
            f'{loader}.num_workers=0',
            f'{loader}.persistent_workers=False'
        ]
    return options


def _run_table(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, osp.join(KIT, 'run_table.py'), *args],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300)


def _scalars_top1(work_dir: str) -> dict:
    """Epoch -> top-1, read here without the kit (later files win)."""
    top1 = {}
    for path in sorted(
            glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        for line in open(path).read().splitlines():
            record = json.loads(line)
            if 'accuracy/top1' in record:
                top1[record['step']] = record['accuracy/top1']
    return top1


def _snapshot(work_dir: str) -> dict:
    return {
        p: os.stat(p).st_mtime_ns
        for p in glob.glob(osp.join(work_dir, '**'), recursive=True)
        if osp.isfile(p)
    }


def _kill_half_way(job, options: list) -> None:
    """Start ``job`` as the kit would, SIGKILL it after its first epoch."""
    launch = _kit('kit_launch')
    os.makedirs(job.work_dir)
    proc = subprocess.Popen(
        launch.local_command(job, options),
        cwd=REPO,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True)
    deadline = time.time() + 120
    while not osp.isfile(osp.join(job.work_dir, 'epoch_1.pth')):
        assert proc.poll() is None, 'the run ended before its first epoch'
        assert time.time() < deadline
        time.sleep(0.02)
    assert proc.poll() is None, 'the run finished before it was killed'
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not osp.isfile(osp.join(job.work_dir, f'epoch_{MAX_EPOCHS}.pth'))


def test_run_kill_resume_collect(tmp_path):
    data = make_cifar100_folder(str(tmp_path / 'cifar'), train_per_class=1)
    root = str(tmp_path / 'runs')
    options = _tiny_options(data)
    common = [
        '--pairs', PAIR, '--methods', 'kd,energykd', '--gpus', '2',
        '--work-root', root, '--cfg-options', *options
    ]
    first = _run_table(*common, '--seeds', '0')
    assert first.returncode == 0, first.stdout + first.stderr
    launch = _kit('kit_launch')
    index = _kit('kit_configs').ModelIndex()
    names = [f'{m}_{PAIR}_1xb64_240e_cifar100' for m in ('kd', 'energykd')]
    configs = {n: index.config_path(n) for n in names}
    jobs = {
        (j.name.split('_')[0], j.seed): j
        for j in launch.make_jobs(configs, [0, 1], root)
    }
    assert all(
        launch.job_state(jobs[m, 0]) == 'finished' for m in ('kd', 'energykd'))

    killed = jobs['kd', 1]
    _kill_half_way(killed, options)
    assert launch.job_state(killed) == 'resume'
    # a killed run is reported as still going
    collect = _kit('collect_table')
    assert collect.main([root, '--out',
                         str(tmp_path / 'mid'), '--no-plot']) == 0
    mid = json.load(open(tmp_path / 'mid.json'))['rows']
    kd_mid = next(r for r in mid if r['method'] == 'kd')
    assert kd_mid['status'].startswith('1 finished, 1 running (seed 1: ')
    assert [r['finished'] for r in kd_mid['runs']] == [True, False]

    before = {m: _snapshot(jobs[m, 0].work_dir) for m in ('kd', 'energykd')}
    second = _run_table(*common, '--seeds', '0', '1')
    assert second.returncode == 0, second.stdout + second.stderr
    for method in ('kd', 'energykd'):
        job = jobs[method, 0]
        assert f'[skip] {job.name} seed 0: finished' in second.stdout
        # not retrained: no file written or touched
        assert _snapshot(job.work_dir) == before[method]
    assert f'[start] {killed.name} seed 1 on device slot' in second.stdout
    assert '(resume)' in second.stdout
    _check_resumed(killed.work_dir)
    assert launch.job_state(jobs['energykd', 1]) == 'finished'
    _check_table(tmp_path, root)


def _check_resumed(work_dir: str) -> None:
    stamps = sorted(glob.glob(osp.join(work_dir, '2*', 'vis_data')))
    assert len(stamps) == 2  # the killed start and the resumed one
    with open(osp.join(stamps[1], 'scalars.json')) as f:
        lines = [json.loads(line) for line in f]
    train_epochs = {r['epoch'] for r in lines if 'epoch' in r}
    # resumed from a checkpoint: the first epoch is not trained again
    assert train_epochs and min(train_epochs) >= 2
    assert max(train_epochs) == MAX_EPOCHS
    assert osp.isfile(osp.join(work_dir, f'epoch_{MAX_EPOCHS}.pth'))
    with open(osp.join(work_dir, 'reproduce_train.log')) as f:
        assert '--resume' in f.readline() + f.readline()


def _check_table(tmp_path, root: str) -> None:
    collect = _kit('collect_table')
    out = str(tmp_path / 'table')
    assert collect.main([root, '--out', out]) == 0
    rows = {r['method']: r for r in json.load(open(out + '.json'))['rows']}
    assert set(rows) == {'kd', 'energykd'}
    markdown = open(out + '.md').read()
    with open(out + '.png', 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    for method, row in rows.items():
        assert row['num_runs'] == 2 and row['status'] == '2 finished'
        assert [r['seed'] for r in row['runs']] == [0, 1]
        runs = [
            _scalars_top1(osp.join(root, row['name'], f'seed{seed}'))
            for seed in (0, 1)
        ]
        best = [max(t.values()) for t in runs]
        last = [t[max(t)] for t in runs]
        assert [r['best'] for r in row['runs']] == best
        assert [r['last'] for r in row['runs']] == last
        assert all(max(t) == MAX_EPOCHS for t in runs)
        assert row['best']['mean'] == pytest.approx(statistics.mean(best))
        assert row['best']['std'] == pytest.approx(statistics.stdev(best))
        assert row['last']['mean'] == pytest.approx(statistics.mean(last))
        assert row['last']['std'] == pytest.approx(statistics.stdev(last))
        assert row['name'] in markdown
        assert f"{statistics.mean(best):.2f}" in markdown
    # KD ResNet56 -> ResNet20: mdistiller's published 70.66 (anchors.md)
    assert rows['kd']['published'] == 70.66
    assert rows['kd']['diff'] == pytest.approx(
        statistics.mean(r['best'] for r in rows['kd']['runs']) - 70.66)


def test_selection_names_and_published_numbers():
    settings = _kit('kit_settings')
    assert settings.select('all', settings.METHODS,
                           '--methods') == list(settings.METHODS)
    assert settings.select('dkd, kd,dkd', settings.METHODS,
                           '--methods') == ['dkd', 'kd']
    with pytest.raises(ValueError, match='--pairs .resnet9. is unknown'):
        settings.select('resnet9', list(settings.PAIRS), '--pairs')
    with pytest.raises(ValueError, match='--methods is empty'):
        settings.select(',', settings.METHODS, '--methods')
    name = settings.config_name('wrn_40_2_wrn_16_2', 'energykd-release')
    assert name == 'energykd-release_wrn_40_2_wrn_16_2_1xb64_240e_cifar100'
    assert settings.parse_config_name(name) == dict(
        method='energykd-release',
        pair='wrn_40_2_wrn_16_2',
        schedule='240e',
        dataset='cifar100')
    assert settings.parse_config_name('res34_res18_in1k') is None
    assert len(settings.PAIRS) == 11
    # anchors.md, "The paper's own numbers" (written out independently),
    # read from the metafiles: the one source of published numbers
    index = _kit('kit_configs').ModelIndex()
    expected = {
        ('energymlkd', 'resnet32x4_resnet8x4'): 77.31,
        ('mlkd', 'wrn_40_2_wrn_16_2'): 76.63,
        ('energydkd', 'resnet50_mobilenetv2'): 70.77,
        ('energykd', 'resnet32x4_shufflenetv2'): 75.87,
        ('dkd', 'resnet56_resnet20'): 71.97,
        ('energydkd', 'vgg13_mobilenetv2'): None,  # the table's typo
        ('energykd-release', 'vgg13_vgg8'): None,  # never published
        ('kd-heda', 'resnet32x4_resnet8x4'): None,
    }
    for (method, pair), top1 in expected.items():
        pub = index.published(settings.config_name(pair, method))
        assert (pub.top1 if pub else None) == top1, (method, pair)
        if pub:
            assert pub.source.startswith('metafile ')
    assert index.published(settings.config_name('vgg13_vgg8', 'kd',
                                                '360e')) is None
    # no second table of numbers in the kit
    assert not hasattr(settings, 'PUBLISHED')
    assert not hasattr(settings, 'published_fallback')


def test_model_index_finds_renamed_configs_and_results(tmp_path):
    configs = _kit('kit_configs')
    moved = tmp_path / 'configs' / 'elsewhere' / 'renamed.py'
    moved.parent.mkdir(parents=True)
    moved.write_text('x = 1\n')
    kd = 'kd_vgg13_vgg8_1xb64_240e_cifar100'
    plain = tmp_path / 'configs' / 'kd' / f'{kd}.py'
    plain.parent.mkdir(parents=True)
    plain.write_text('x = 1\n')
    (tmp_path / 'model-index.yml').write_text('Import:\n- meta.yml\n')
    name = 'dkd_vgg13_vgg8_1xb64_240e_cifar100'
    (tmp_path / 'meta.yml').write_text(
        f'Models:\n- Name: {name}\n  Config: configs/elsewhere/renamed.py\n'
        '  Results:\n  - Task: Image Classification\n    Dataset: CIFAR-100\n'
        '    Metrics:\n      Top 1 Accuracy: 12.5\n')
    index = configs.ModelIndex(str(tmp_path))
    assert index.config_path(name) == str(moved)
    assert index.config_path('renamed') == str(moved)
    assert index.published(name).top1 == 12.5  # the metafile's, not 74.68
    # not in a metafile: found by file name; no published number (the
    # metafiles are the one source)
    assert index.config_path(kd) == str(plain)
    assert index.published(kd) is None
    assert index.config_path('mlkd_vgg13_vgg8_1xb64_240e_cifar100') is None
    # MLKD's own 480-epoch recipe where the pair has no 240-epoch config
    mlkd = 'mlkd_vgg13_vgg8_1xb64_480e_cifar100'
    (tmp_path / 'configs' / 'kd' / f'{mlkd}.py').write_text('x = 1\n')
    (tmp_path / 'configs' / 'kd' /
     kd.replace('240e', '360e')).with_suffix('.py').write_text('x = 1\n')
    index = configs.ModelIndex(str(tmp_path))
    assert index.schedules('kd', 'vgg13_vgg8') == {
        '240e': kd,
        '360e': kd.replace('240e', '360e')
    }
    assert index.choose('kd', 'vgg13_vgg8') == kd
    assert index.choose('kd', 'vgg13_vgg8', '360e').endswith('360e_cifar100')
    assert index.choose('mlkd', 'vgg13_vgg8') == mlkd
    assert index.choose('mlkd', 'vgg13_vgg8', '240e') is None
    assert index.published(mlkd) is None
    found, missing = _kit('run_table').resolve_configs(
        ['vgg13_vgg8'], ['kd', 'dkd', 'mlkd', 'energymlkd'], 'auto',
        str(tmp_path))
    assert found == {
        kd: str(plain),
        name: str(moved),
        mlkd: osp.join(str(tmp_path), 'configs', 'kd', f'{mlkd}.py')
    }
    assert missing == ['energymlkd x vgg13_vgg8 (schedule auto)']
    (tmp_path / 'model-index.yml').write_text('Import:\n- gone.yml\n')
    with pytest.raises(FileNotFoundError, match='gone.yml'):
        configs.ModelIndex(str(tmp_path))


def test_states_commands_and_devices(tmp_path, monkeypatch):
    launch = _kit('kit_launch')
    config = osp.join(REPO, 'configs', 'kd', 'x.py')
    (job, ) = launch.make_jobs({'kd_x': config}, [3], str(tmp_path))
    assert job.work_dir == str(tmp_path / 'kd_x' / 'seed3')
    assert launch.job_state(job) == 'new'
    assert '--resume' not in launch.local_command(job, ['a=1'])
    os.makedirs(job.work_dir)
    open(osp.join(job.work_dir, 'best_accuracy_top1_epoch_1.pth'), 'w')
    assert launch.job_state(job) == 'new'  # a best checkpoint is no resume
    open(osp.join(job.work_dir, 'epoch_1.pth'), 'w')
    assert launch.job_state(job) == 'resume'
    cmd = launch.local_command(job, ['a=1', 'randomness.seed=9'])
    assert cmd[1:4] == [
        osp.join(REPO, 'tools', 'train.py'), config, '--work-dir'
    ]
    # the run's own seed comes last, so it wins
    assert cmd[-4:] == [
        '--cfg-options', 'a=1', 'randomness.seed=9', 'randomness.seed=3'
    ]
    assert '--resume' in cmd
    open(osp.join(job.work_dir, launch.MARKER), 'w')
    assert launch.job_state(job) == 'finished'
    dist = launch.remote_command(job, ['a=1'], 'dist')
    assert dist.startswith('bash tools/dist_train.sh '
                           'configs/kd/x.py 1 --work-dir ')
    assert dist.endswith(f"> {osp.join(job.work_dir, launch.MARKER)}")
    slurm = launch.remote_command(job, [], 'slurm', partition='gpu')
    assert slurm.startswith('srun -p "gpu" --job-name=kd_x_s3 --gres=gpu:1')
    assert '--launcher slurm' in slurm and '--resume' in slurm
    monkeypatch.delenv('CUDA_VISIBLE_DEVICES', raising=False)
    assert launch.device_env(0, 0)['CUDA_VISIBLE_DEVICES'] == ''
    assert launch.device_env(1, 2)['CUDA_VISIBLE_DEVICES'] == '1'
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '4,6')
    assert launch.device_env(1, 2)['CUDA_VISIBLE_DEVICES'] == '6'
    with pytest.raises(ValueError, match='lists only 2 device'):
        launch.device_env(0, 3)


def test_read_merges_restarts_and_skips_cut_lines(tmp_path):
    read = _kit('kit_read')
    run_dir = tmp_path / 'root' / 'some' / 'run'
    first = run_dir / '20260101_000000' / 'vis_data'
    second = run_dir / '20260101_010000' / 'vis_data'
    for folder in (first, second):
        folder.mkdir(parents=True)
    (first / 'scalars.json').write_text(
        '{"loss": 1.0, "epoch": 1, "iter": 4, "step": 4}\n'
        '{"accuracy/top1": 10.0, "step": 1}\n'
        '{"accuracy/top1": 20.0, "step": 2}\n{"accuracy/to')  # killed
    (second /
     'scalars.json').write_text('{"accuracy/top1": 15.0, "step": 2}\n'
                                '{"accuracy/top1": 12.0, "step": 3}\n')
    (second / 'config.py').write_text(
        'randomness = dict(seed=7)\ntrain_cfg = dict(max_epochs=4)\n')
    (run_dir / 'my_cfg.py').write_text('x = 1\n')
    assert read.find_work_dirs([str(tmp_path / 'root')]) == [str(run_dir)]
    run = read.read_run(str(run_dir))
    assert run.top1 == {1: 10.0, 2: 15.0, 3: 12.0}
    assert (run.name, run.seed, run.max_epochs) == ('my_cfg', 7, 4)
    assert (run.best, run.last, run.finished) == (15.0, 12.0, False)
    (second / 'scalars.json').write_text('{"accuracy/top1": 5.0, "step": 4}\n')
    assert read.read_run(str(run_dir)).finished  # validated at max_epochs
    table = _kit('kit_table')
    assert table.mean_std([1.0])['std'] is None
    values = [71.3, 70.9, 71.8]
    stat = table.mean_std(values)
    assert stat['mean'] == pytest.approx(statistics.mean(values))
    assert stat['std'] == pytest.approx(statistics.stdev(values))


def test_run_table_dry_run_and_print_commands(tmp_path, capsys):
    run_table = _kit('run_table')
    code = run_table.main([
        '--pairs', 'resnet56_resnet20', '--methods', 'kd,energykd', '--seeds',
        '0', '1', '--gpus', '0', '--work-root',
        str(tmp_path), '--dry-run'
    ])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count('[new] resnet56_resnet20') == 4
    assert '# 4 run(s) on CPU, 1 at a time' in out
    code = run_table.main([
        '--pairs', 'resnet56_resnet20', '--methods', 'kd', '--schedule',
        '360e', '--print-commands', 'slurm'
    ])
    assert code == 0
    assert 'kd_resnet56_resnet20_1xb64_360e_cifar100.py' in \
        capsys.readouterr().out
    with pytest.raises(SystemExit):
        run_table.parse_args(['--seeds', '1', '1'])
    with pytest.raises(SystemExit):
        run_table.parse_args(['--cfg-options', 'novalue'])
    with pytest.raises(SystemExit):
        run_table.parse_args(['--schedule', '240'])
