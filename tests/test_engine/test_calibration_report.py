# Copyright (c) mmenergykd contributors. All rights reserved.
"""The calibration pass in the logs: scalars and the energy histogram
through MMEngine's visualizer, read back from the LocalVisBackend files and
the TensorBoard event file."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.runner import Runner
from PIL import Image

from mmenergykd.engine.calibration import group_statistics
from tests.helpers import (make_imagenet_folder, save_tiny_teacher,
                           tiny_runner_cfg)

LOSSES = dict(
    loss_energykd=dict(type='EnergyKDLoss', low_ratio=0.25, high_ratio=0.25))
HEDA = dict(type='HighEnergyAugmentHook', high_ratio=0.5, kd_term='kd')
TAG = 'energy_calibration'
EPS = 1e-5


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp('report')
    data = make_imagenet_folder(
        str(root / 'data'), num_train=12, num_val=4, classes=5, size=20)
    cfg = tiny_runner_cfg(
        str(root / 'work'),
        data,
        save_tiny_teacher(str(root / 't.pth')),
        distill_losses=LOSSES,
        custom_hooks=[dict(type='EnergyCalibrationHook'), HEDA],
        batch_size=4)
    cfg.visualizer = dict(
        type='Visualizer',
        vis_backends=[
            dict(type='LocalVisBackend'),
            dict(type='TensorboardVisBackend')
        ])
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def _calibration_samples(runner):
    """Energies (T_E 4), labels and teacher top-1 of the 12 training
    samples (batch 4, no shuffle, deterministic pipeline: none dropped)."""
    model = runner.model
    dataset = runner.train_dataloader.dataset
    batch = dict(
        inputs=[dataset[i]['inputs'] for i in range(len(dataset))],
        data_samples=[dataset[i]['data_samples'] for i in range(len(dataset))])
    inputs = model.data_preprocessor(batch, False)['inputs']
    with torch.no_grad():
        logits = model.teacher.head(model.teacher.extract_feat(inputs))
    energies = -4.0 * torch.logsumexp(logits.double() / 4.0, dim=1)
    labels = np.array([int(s.gt_label) for s in batch['data_samples']])
    return energies.numpy(), labels, logits.argmax(1).numpy()


def _expected(runner) -> dict:
    """The scalars, computed here from the teacher and the thresholds."""
    energies, labels, preds = _calibration_samples(runner)
    expected = {f'{TAG}/num_samples': float(len(energies))}
    model = runner.model
    consumers = dict(
        loss_energykd=model.distill_losses['loss_energykd'],
        high_energy_augment=model.high_energy_augment)
    for name, consumer in consumers.items():
        low = consumer.low_threshold.item()
        high = consumer.high_threshold.item()
        expected[f'{TAG}/{name}/low_threshold'] = low
        expected[f'{TAG}/{name}/high_threshold'] = high
        # the samples at a threshold are middle (strict rule); float64
        # here against float32 there: compare with a margin
        groups = np.where(energies < low - EPS, 0,
                          np.where(energies > high + EPS, 2, 1))
        for index, group in enumerate(('low', 'mid', 'high')):
            mask = groups == index
            expected[f'{TAG}/{name}/{group}_count'] = float(mask.sum())
            expected[f'{TAG}/{name}/{group}_share'] = mask.mean()
            if mask.any():
                expected[f'{TAG}/{name}/teacher_{group}_top1'] = \
                    100.0 * (preds[mask] == labels[mask]).mean()
    heda = f'{TAG}/high_energy_augment'
    expected[f'{heda}/heda_selected_count'] = expected[f'{heda}/high_count']
    expected[f'{heda}/heda_selected_share'] = expected[f'{heda}/high_share']
    return expected


def _vis_dir(runner) -> str:
    found = glob.glob(osp.join(runner.work_dir, '*', 'vis_data'))
    assert len(found) == 1, found
    return found[0]


def test_local_backend_scalars_and_histogram(run):
    vis_dir = _vis_dir(run)
    with open(osp.join(vis_dir, 'scalars.json')) as f:
        lines = [json.loads(line) for line in f]
    logged = [line for line in lines if f'{TAG}/num_samples' in line]
    assert len(logged) == 1 and logged[0]['step'] == 0
    expected = _expected(run)
    got = {k: v for k, v in logged[0].items() if k != 'step'}
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-5), key
    # HE-DA selects the upper half (high_ratio 0.5) of the 12 samples
    assert got[f'{TAG}/high_energy_augment/heda_selected_count'] == 6
    for name in ('loss_energykd', 'high_energy_augment'):
        path = osp.join(vis_dir, 'vis_image', f'{TAG}_{name}_0.png')
        with Image.open(path) as image:
            pixels = np.asarray(image.convert('RGB'))
        assert pixels.shape[0] > 200 and pixels.shape[1] > 400
        assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10


def test_tensorboard_backend_has_the_same(run):
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    events = glob.glob(
        osp.join(_vis_dir(run), '**', 'events.out.tfevents.*'), recursive=True)
    assert events
    acc = EventAccumulator(osp.dirname(events[0]), size_guidance={'images': 0})
    acc.Reload()
    expected = _expected(run)
    for key, value in expected.items():
        scalars = acc.Scalars(key)
        assert [s.step for s in scalars] == [0], key
        assert scalars[0].value == pytest.approx(value, abs=1e-5), key
    assert {f'{TAG}_loss_energykd',
            f'{TAG}_high_energy_augment'} <= set(acc.Tags()['images'])


def test_checkpoint_keeps_only_thresholds(run):
    saved = torch.load(
        osp.join(run.work_dir, 'epoch_1.pth'), weights_only=False)
    assert set(saved['energy_calibration']) == {'num_samples', 'thresholds'}


def test_group_statistics_against_a_count():
    energies = torch.tensor([-5.0, -4.0, -3.0, -2.0, -1.0, 0.0])
    labels = torch.tensor([0, 1, 1, 2, -1, 0])
    preds = torch.tensor([0, 0, 1, 2, 1, 1])
    stats = group_statistics(energies, -3.5, -1.5, labels, preds)
    # low: -5, -4 (E < -3.5); high: -1, 0 (E > -1.5); mid: -3, -2
    assert stats['counts'] == [2, 2, 2]
    assert stats['shares'] == [2 / 6] * 3
    # low: 1 of 2 right; mid: 2 of 2; high: the labelled one (0 vs 1) wrong
    assert stats['teacher_top1'] == [50.0, 100.0, 0.0]
