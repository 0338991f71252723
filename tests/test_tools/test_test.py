# Copyright (c) mmenergykd contributors. All rights reserved.
"""tools/test.py: evaluates the student of a distiller checkpoint."""
import os.path as osp
import pickle
import subprocess
import sys

import pytest
import torch
from mmengine.runner import Runner

from tests.helpers import (REPO, make_imagenet_folder, save_tiny_teacher,
                           tiny_runner_cfg)

TEST_PY = osp.join(REPO, 'tools', 'test.py')
TRAINING_HOOKS = [
    dict(type='EnergyCalibrationHook'),
    dict(type='HighEnergyAugmentHook', high_ratio=0.5)
]
EMA = dict(type='EMAHook', momentum=0.5, priority='ABOVE_NORMAL')


def student_of(state_dict: dict) -> dict:
    return {
        k[len('student.'):]: v
        for k, v in state_dict.items() if k.startswith('student.')
    }


def predict(runner: Runner,
            student_state: dict,
            mirror: bool = False) -> torch.Tensor:
    """Scores of the student with these weights on the test set (on the
    mirror images with ``mirror``)."""
    runner.model.student.load_state_dict(student_state)
    runner.model.eval()
    out = []
    with torch.no_grad():
        for batch in runner.test_dataloader:
            data = runner.model.data_preprocessor(batch, False)
            inputs = data['inputs'].flip(-1) if mirror else data['inputs']
            out += runner.model.student(
                inputs, data['data_samples'], mode='predict')
    return torch.stack([s.pred_score for s in out])


def test_tools_test_evaluates_the_student_keeping_other_hooks(tmp_path):
    data = make_imagenet_folder(
        str(tmp_path / 'data'), num_train=8, num_val=6, classes=5, size=20)
    teacher = save_tiny_teacher(str(tmp_path / 't.pth'))
    work = str(tmp_path / 'work')
    cfg = tiny_runner_cfg(
        work, data, teacher, max_epochs=1, custom_hooks=TRAINING_HOOKS + [EMA])
    runner = Runner.from_cfg(cfg)
    runner.train()
    ckpt = osp.join(work, 'epoch_1.pth')
    config = str(tmp_path / 'cfg.py')
    cfg.dump(config)

    out = str(tmp_path / 'preds.pkl')
    result = subprocess.run([
        sys.executable, TEST_PY, config, ckpt, '--work-dir',
        str(tmp_path / 'test'), '--out', out, '--cfg-options', 'log_level=INFO'
    ],
                            cwd=REPO,
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    # The training-only hooks are dropped, the others (EMAHook) kept.
    hooks = log[log.index('Hooks will be executed'):]
    assert 'EMAHook' in hooks
    assert 'EnergyCalibrationHook' not in hooks
    assert 'HighEnergyAugmentHook' not in hooks
    assert 'accuracy/top1' in log

    with open(out, 'rb') as f:
        dumped = pickle.load(f)
    scores = torch.stack([torch.as_tensor(r['pred_score']) for r in dumped])
    assert scores.shape == (6, 5)  # the whole val set, the student's classes
    # The predictions are the checkpoint's student's. (MMEngine's EMAHook
    # stores the averaged weights as `state_dict` and the raw ones as
    # `ema_state_dict`: the evaluated student is the averaged one, which
    # predicts differently from the raw one.)
    checkpoint = torch.load(ckpt, weights_only=False)
    averaged = predict(runner, student_of(checkpoint['state_dict']))
    raw = predict(
        runner,
        student_of({
            k[len('module.'):]: v
            for k, v in checkpoint['ema_state_dict'].items()
            if k.startswith('module.')
        }))
    torch.testing.assert_close(scores, averaged)
    assert not torch.allclose(averaged, raw)

    # --out-item metrics: the accuracy of those predictions
    labels = torch.tensor([int(r['gt_label']) for r in dumped])
    metrics = run_tool(config, ckpt, tmp_path, 'metrics', '--out-item',
                       'metrics')
    accuracy = (scores.argmax(1) == labels).float().mean().item()
    assert metrics['accuracy/top1'] == pytest.approx(100 * accuracy)

    # --tta: MMPretrain's flip TTA, the class scores of the image and of its
    # mirror image averaged (EMAHook is dropped under --tta: it would average
    # the TTA wrapper and test its initial weights; the checkpoint already
    # holds the averaged ones)
    tta = run_tool(config, ckpt, tmp_path, 'tta', '--tta')
    tta_scores = torch.stack([torch.as_tensor(r['pred_score']) for r in tta])
    weights = student_of(checkpoint['state_dict'])
    expected = (predict(runner, weights) +
                predict(runner, weights, mirror=True)) / 2
    torch.testing.assert_close(tta_scores, expected, atol=1e-5, rtol=0)
    assert not torch.allclose(tta_scores, scores, atol=1e-4, rtol=0)


def run_tool(config: str, ckpt: str, tmp_path, name: str, *flags) -> object:
    out = str(tmp_path / f'{name}.pkl')
    result = subprocess.run([
        sys.executable, TEST_PY, config, ckpt, '--work-dir',
        str(tmp_path / name), '--out', out, *flags
    ],
                            cwd=REPO,
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(out, 'rb') as f:
        return pickle.load(f)
