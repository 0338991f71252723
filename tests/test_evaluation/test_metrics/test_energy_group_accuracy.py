# Copyright (c) mmenergykd contributors. All rights reserved.
"""EnergyGroupAccuracy: the metric alone, and in a validation loop where
the distiller annotates the teacher's energy groups."""
import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmpretrain.structures import DataSample

from mmenergykd.evaluation import EnergyGroupAccuracy
from tests.helpers import (make_imagenet_folder, save_tiny_teacher,
                           tiny_runner_cfg)


def _samples(num: int = 200, classes: int = 7, seed: int = 0) -> list:
    gen = torch.Generator().manual_seed(seed)
    scores = torch.rand(num, classes, generator=gen)
    labels = torch.randint(0, classes, (num, ), generator=gen)
    groups = torch.randint(0, 3, (num, ), generator=gen)
    out = []
    for score, label, group in zip(scores, labels, groups):
        sample = DataSample().set_gt_label(int(label))
        sample.set_pred_score(score).set_pred_label(int(score.argmax()))
        sample.set_field(group, 'energy_group')
        out.append(sample)
    return out


def test_group_top1_weighted_by_counts_is_overall_and_accuracy():
    samples = _samples()
    # built by name, as a config's val_evaluator lists it
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        evaluator = Evaluator([
            dict(type='Accuracy', topk=(1, )),
            dict(type='EnergyGroupAccuracy')
        ])
    assert isinstance(evaluator.metrics[1], EnergyGroupAccuracy)
    evaluator.process(samples)
    metrics = evaluator.evaluate(len(samples))
    # independent: per-group accuracy from the raw tensors
    right = np.array([int(s.pred_label) == int(s.gt_label) for s in samples])
    groups = np.array([int(s.energy_group) for s in samples])
    for index, name in enumerate(('low', 'mid', 'high')):
        mask = groups == index
        assert metrics[f'energy_group/{name}_count'] == int(mask.sum())
        assert metrics[f'energy_group/{name}_top1'] == pytest.approx(
            100 * right[mask].mean())
    weighted = sum(
        metrics[f'energy_group/{g}_top1'] * metrics[f'energy_group/{g}_count']
        for g in ('low', 'mid', 'high')) / len(samples)
    assert weighted == pytest.approx(metrics['energy_group/top1'])
    assert metrics['energy_group/top1'] == pytest.approx(
        metrics['accuracy/top1'])
    assert metrics['energy_group/count'] == len(samples)


def test_empty_group_is_nan_with_count_zero():
    metric = EnergyGroupAccuracy()
    samples = [s.to_dict() for s in _samples(10)]
    for s in samples:
        s['energy_group'] = torch.tensor(1)
    metric.process({}, samples)
    result = metric.compute_metrics(metric.results)
    assert result['low_count'] == 0 and math.isnan(result['low_top1'])
    assert result['mid_count'] == 10


def test_predictions_without_groups_name_the_hook():
    metric = EnergyGroupAccuracy()
    sample = DataSample().set_gt_label(1).set_pred_label(1).to_dict()
    with pytest.raises(ValueError, match='EnergyCalibrationHook'):
        metric.process({}, [sample])


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp('egacc')
    data = make_imagenet_folder(
        str(root / 'data'), num_train=12, num_val=9, classes=5, size=20)
    cfg = tiny_runner_cfg(
        str(root / 'work'),
        data,
        save_tiny_teacher(str(root / 't.pth')),
        custom_hooks=[dict(type='EnergyCalibrationHook')],
        distill_losses=dict(
            loss_energykd=dict(
                type='EnergyKDLoss', low_ratio=0.25, high_ratio=0.25)))
    cfg.val_evaluator = [
        dict(type='Accuracy', topk=(1, )),
        dict(type='EnergyGroupAccuracy')
    ]
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_validation_reports_groups_of_training_thresholds(trained):
    runner = trained
    metrics = runner.val()
    model = runner.model
    loss = model.distill_losses['loss_energykd']
    # independent: the teacher's energies of the validation images and
    # the calibrated thresholds
    dataset = runner.val_dataloader.dataset
    batch = dict(
        inputs=[dataset[i]['inputs'] for i in range(len(dataset))],
        data_samples=[dataset[i]['data_samples'] for i in range(len(dataset))])
    inputs = model.data_preprocessor(batch, False)['inputs']
    with torch.no_grad():
        logits = model.teacher.head(model.teacher.extract_feat(inputs))
    energies = -4.0 * torch.logsumexp(logits.double() / 4.0, dim=1)
    low, high = loss.low_threshold.item(), loss.high_threshold.item()
    counts = dict(
        low=int((energies < low).sum()), high=int((energies > high).sum()))
    counts['mid'] = len(dataset) - counts['low'] - counts['high']
    for name, count in counts.items():
        assert metrics[f'energy_group/{name}_count'] == count
    assert metrics['energy_group/count'] == len(dataset)
    total = sum(metrics[f'energy_group/{g}_top1'] * c
                for g, c in counts.items() if c) / len(dataset)
    assert total == pytest.approx(metrics['energy_group/top1'])
    assert metrics['energy_group/top1'] == pytest.approx(
        metrics['accuracy/top1'])


def test_annotation_only_while_the_metric_is_listed(trained):
    from mmenergykd.models.distillers.energy_annotation import \
        energy_annotation_enabled
    runner = trained
    seen = []
    runner.register_hook(_Spy(seen), priority='LOWEST')
    runner.val()
    assert seen == [True]
    assert not energy_annotation_enabled(runner.model)


class _Spy(Hook):
    """Records whether predictions carry energy groups in validation."""

    def __init__(self, seen):
        self.seen = seen

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if batch_idx == 0:
            self.seen.append('energy_group' in outputs[0])


def test_tools_test_keeps_the_switch_for_the_metric(trained, tmp_path):
    """Our tools/test.py drops EnergyCalibrationHook (training only), but
    keeps it when test_evaluator lists EnergyGroupAccuracy; the groups then
    match the validation run's."""
    import os.path as osp
    import subprocess
    import sys

    from tests.helpers import REPO
    runner = trained
    expected = runner.val()
    cfg = runner.cfg.copy()
    cfg.test_evaluator = cfg.val_evaluator
    cfg.work_dir = str(tmp_path / 'test')
    cfg.log_level = 'INFO'  # the metrics line
    config = str(tmp_path / 'cfg.py')
    cfg.dump(config)
    result = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'test.py'), config,
        osp.join(runner.work_dir, 'epoch_1.pth')
    ],
                            cwd=REPO,
                            capture_output=True,
                            text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for group in ('low', 'mid', 'high'):
        key = f'energy_group/{group}_count'
        assert f'{key}: {expected[key]}' in result.stdout + result.stderr
