# Copyright (c) mmenergykd contributors. All rights reserved.
"""``tools/dist_train.sh CONFIG 2``: two CPU processes (gloo, torchrun).

One two-process run (Energy KD + HE-DA, 2 epochs, random transforms,
shuffling, Mixup) is shared by the assertions below.
"""
import json
import socket
import subprocess

import pytest
import torch
from mmengine.runner import Runner

from tests.helpers import make_imagenet_folder, save_tiny_teacher
from ._common import (DIST_TRAIN_SH, load, reliability_cfg, subprocess_env,
                      train_main, write_cfg)

DUMP = dict(type='TestDumpStateHook')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def ddp_run(tmp_path_factory):
    root = tmp_path_factory.mktemp('ddp')
    # 22 training samples (not a multiple of 2 x batch 4: the sampler pads,
    # calibration drops the last partial batch); 5 validation samples (odd).
    data = make_imagenet_folder(
        str(root / 'data'), num_train=22, num_val=5, classes=5, size=20)
    teacher = save_tiny_teacher(str(root / 't.pth'))
    cfg = reliability_cfg(str(root / 'ddp'), data, teacher, extra_hooks=[DUMP])
    config = write_cfg(cfg, str(root / 'ddp.py'))
    env = subprocess_env()
    env['PORT'] = str(free_port())
    result = subprocess.run(
        ['bash', DIST_TRAIN_SH, config, '2', '--work-dir',
         str(root / 'ddp')],
        env=env,
        capture_output=True,
        text=True,
        timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + \
        result.stderr[-6000:]
    dumps = []
    for rank in (0, 1):
        with open(str(root / 'ddp' / f'dump_rank{rank}.json')) as f:
            dumps.append(json.load(f))
    return root, data, teacher, config, dumps


def test_both_ranks_train_energy_kd_and_heda(ddp_run):
    root, _, _, _, dumps = ddp_run
    for rank, dump in enumerate(dumps):
        assert dump['rank'] == rank and dump['world_size'] == 2
        losses = dump['losses']
        # 22 samples, 2 ranks, batch 4: 3 iterations per epoch, 2 epochs
        assert len(losses['train/loss']) == 6
        assert all(
            torch.isfinite(torch.tensor(v)).all() for v in losses.values())
        assert sum(losses['train/heda_num']) > 0  # HE-DA mixed samples
        assert dump['params_finite'] and dump['grads_finite']
    ckpt = load(str(root / 'ddp' / 'epoch_2.pth'))
    assert ckpt['meta']['epoch'] == 2
    assert 'high_energy_augment' in ckpt and 'energy_calibration' in ckpt


def test_thresholds_identical_and_equal_to_single_process(ddp_run, tmp_path):
    root, _, _, config, dumps = ddp_run
    assert dumps[0]['thresholds'] == dumps[1]['thresholds']
    assert set(
        dumps[0]['thresholds']) == {'loss_energykd', 'high_energy_augment'}
    # The same config, one process (tools/train.py main, in this process).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_main([
            config, '--work-dir',
            str(tmp_path), '--cfg-options', 'train_cfg.max_epochs=1'
        ])
    finally:
        torch.set_num_threads(threads)
    with open(str(tmp_path / 'dump_rank0.json')) as f:
        single = json.load(f)
    assert single['world_size'] == 1
    # bitwise: same samples, same batches, per-sample seeded transforms
    assert single['thresholds'] == dumps[0]['thresholds']
    saved = load(str(root / 'ddp' / 'epoch_1.pth'))['energy_calibration']
    assert saved['num_samples'] == 20  # 22 samples, last partial batch out


def test_validation_covers_the_whole_val_set(ddp_run, tmp_path):
    root, _, _, config, dumps = ddp_run
    reported = dumps[0]['val_metrics'][-1]['accuracy/top1']
    assert dumps[1]['val_metrics'][-1]['accuracy/top1'] == reported
    # Recompute in one process from the final weights: per-sample
    # correctness over all 5 validation images.
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path)
    cfg.custom_hooks = []
    cfg.load_from = str(root / 'ddp' / 'epoch_2.pth')
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    model = runner.model.eval()
    dataset = runner.val_dataloader.dataset
    assert len(dataset) == 5
    correct = []
    with torch.no_grad():
        for i in range(len(dataset)):
            batch = runner.val_dataloader.collate_fn([dataset[i]])
            pred = model.val_step(batch)[0]
            correct.append(int(pred.pred_label == pred.gt_label))
    assert reported == pytest.approx(100.0 * sum(correct) / 5, abs=1e-4)
    shards = (correct[0::2], correct[1::2])  # what each rank evaluated
    print('per-sample correct', correct, 'shard accuracies',
          [100.0 * sum(s) / len(s) for s in shards])


def test_live_lock_refuses_every_rank(ddp_run, tmp_path):
    # GuardedRunner under torchrun: rank 0 finds the work dir held (by a
    # live run on another host) and its refusal reaches rank 1, which
    # would otherwise wait for rank 0 forever.
    import os.path as osp
    import time

    from mmenergykd.engine import process_info
    from mmenergykd.engine.work_dir_lock import LOCK_NAME
    _, data, teacher, _, _ = ddp_run
    work = tmp_path / 'held'
    work.mkdir()
    owner = process_info.process_record('other')
    owner.update(
        pid=4321, host='gpu-node-3', boot_id='b', heartbeat=time.time())
    (work / LOCK_NAME).write_text(json.dumps(owner))
    cfg = reliability_cfg(str(work), data, teacher)
    cfg.runner_type = 'mmpretrain.GuardedRunner'
    config = write_cfg(cfg, str(tmp_path / 'held.py'))
    env = subprocess_env()
    env['PORT'] = str(free_port())
    result = subprocess.run(
        ['bash', DIST_TRAIN_SH, config, '2', '--work-dir',
         str(work)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert output.count('process 4321 on host gpu-node-3') >= 2, output[-4000:]
    assert sorted(p.name for p in work.iterdir()) == [LOCK_NAME]
    assert json.loads((work / LOCK_NAME).read_text())['token'] == 'other'
    assert not osp.exists(work / 'epoch_1.pth')
