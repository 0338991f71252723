# Copyright (c) mmenergykd contributors. All rights reserved.
"""apis/analyze_energy.py on a tiny distiller and tiny local images.

Energies are recomputed from a separately built teacher (the formula in
``energy_checks.py``); the training split here has a deterministic pipeline
(Resize only), so the images are the dataset's own.
"""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmenergykd.apis import analyze_energy
from tests.helpers import (build_model, make_imagenet_folder,
                           save_tiny_teacher, tiny_classifier, tiny_runner_cfg)
from .energy_checks import (check_energies, check_groups_and_shares,
                            check_pictures, check_rule_thresholds,
                            check_weighted_accuracy, read_outputs,
                            teacher_logits)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('analysis')
    data = make_imagenet_folder(
        str(root / 'data'), num_train=24, num_val=10, classes=5, size=20)
    teacher = save_tiny_teacher(str(root / 'teacher.pth'), seed=1)
    other = save_tiny_teacher(str(root / 'other.pth'), seed=2)
    cfg = tiny_runner_cfg(
        str(root / 'work'),
        data,
        teacher,
        distill_losses=dict(
            loss_energykd=dict(
                type='EnergyKDLoss', low_ratio=0.25, high_ratio=0.25)),
        custom_hooks=[dict(type='EnergyCalibrationHook')],
        batch_size=4)
    return dict(root=root, cfg=cfg, teacher=teacher, other=other)


def _teacher(path: str) -> torch.nn.Module:
    model = build_model(tiny_classifier(5, base=8))
    model.load_state_dict(torch.load(path, weights_only=True)['state_dict'])
    return model


def _images(cfg: Config, split: str) -> list:
    from mmengine.registry import DefaultScope

    from mmenergykd.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(cfg[f'{split}_dataloader'].dataset)
    return [dataset[i] for i in range(len(dataset))]


@pytest.mark.parametrize('split', ['train', 'val'])
def test_csv_summary_and_pictures_without_checkpoint(setup, split, tmp_path):
    out = str(tmp_path / 'out')
    summary = analyze_energy(
        setup['cfg'], out, split=split, device='cpu', progress=False)
    rows, saved = read_outputs(out)
    assert saved['num_samples'] == summary['num_samples']
    assert len(rows) == (24 if split == 'train' else 10)
    items = _images(setup['cfg'], split)
    logits = teacher_logits(
        _teacher(setup['teacher']), [i['inputs'] for i in items], 127.5, 127.5)
    check_energies(rows, logits, temperature=4.0)
    assert [int(r['label']) for r in rows] == \
        [int(i['data_samples'].gt_label) for i in items]
    check_groups_and_shares(rows, saved)
    check_rule_thresholds(rows, saved)
    check_weighted_accuracy(saved, 'teacher_top1')
    assert 'student_top1' not in saved
    assert saved['consumer'] == 'loss_energykd'
    assert (saved['low_ratio'], saved['high_ratio']) == (0.25, 0.25)
    check_pictures(out)
    with open(osp.join(out, 'summary.txt')) as f:
        text = f.read()
    assert f"tau_low = {saved['thresholds']['low']:.6g}" in text


def _training_checkpoint(setup, path: str, teacher: str) -> tuple:
    """A distiller checkpoint as training writes it: the student, the
    calibrated thresholds and the teacher's fingerprint."""
    cfg = setup['cfg']
    model_cfg = dict(
        cfg.model.to_dict(),
        teacher_ckpt=teacher,
        data_preprocessor=cfg.data_preprocessor.to_dict())
    torch.manual_seed(3)
    model = build_model(model_cfg)
    model.init_weights()
    model.energy_loss().set_thresholds(-1.3, -1.1)
    torch.save(dict(meta=dict(), state_dict=model.state_dict()), path)
    return model, (-1.3, -1.1)


def test_checkpoint_thresholds_and_student_accuracy(setup, tmp_path):
    ckpt = str(tmp_path / 'epoch_1.pth')
    model, (low, high) = _training_checkpoint(setup, ckpt, setup['teacher'])
    out = str(tmp_path / 'out')
    analyze_energy(
        setup['cfg'],
        out,
        checkpoint=ckpt,
        split='val',
        device='cpu',
        progress=False)
    rows, saved = read_outputs(out)
    assert saved['thresholds'] == dict(
        low=float(np.float32(low)), high=float(np.float32(high)))
    assert saved['threshold_source'] == f'stored in {ckpt}'
    check_groups_and_shares(rows, saved)
    # the student's top-1 per group, from the student run independently
    items = _images(setup['cfg'], 'val')
    inputs = (torch.stack([i['inputs'].float() for i in items]) - 127.5) / \
        127.5
    with torch.no_grad():
        student = model.student.eval()
        pred = student.head(student.extract_feat(inputs)).argmax(1).numpy()
    labels = np.array([int(r['label']) for r in rows])
    for name in ('low', 'mid', 'high'):
        mask = np.array([r['group'] == name for r in rows])
        expected = 100 * (pred[mask] == labels[mask]).mean() \
            if mask.any() else None
        assert saved['student_top1'][name] == pytest.approx(expected)
    assert saved['student_top1']['all'] == pytest.approx(
        100 * (pred == labels).mean())
    check_weighted_accuracy(saved, 'student_top1')
    check_pictures(out)


def test_checkpoint_of_another_teacher_is_refused(setup, tmp_path):
    ckpt = str(tmp_path / 'epoch_1.pth')
    _training_checkpoint(setup, ckpt, setup['other'])
    with pytest.raises(ValueError, match='different teacher'):
        analyze_energy(
            setup['cfg'],
            str(tmp_path / 'out'),
            checkpoint=ckpt,
            device='cpu',
            progress=False)
    assert not osp.exists(tmp_path / 'out' / 'energies.csv')


def test_config_without_distiller_is_refused(setup, tmp_path):
    cfg = setup['cfg'].copy()
    cfg.model = tiny_classifier(5)
    with pytest.raises(ValueError, match="not 'EnergyKDDistiller'"):
        analyze_energy(cfg, str(tmp_path / 'out'), progress=False)


def test_empty_split_is_refused(setup, tmp_path):
    with pytest.raises(ValueError, match='val split is empty'):
        analyze_energy(
            setup['cfg'],
            str(tmp_path / 'out'),
            split='val',
            device='cpu',
            progress=False,
            cfg_options={
                'val_dataloader.dataset.indices': 0,
                'val_dataloader.dataset.serialize_data': False
            })


def test_checkpoint_for_other_energy_settings_is_refused(setup, tmp_path):
    ckpt = str(tmp_path / 'epoch_1.pth')
    _training_checkpoint(setup, ckpt, setup['teacher'])
    with pytest.raises(ValueError, match='other energy settings'):
        analyze_energy(
            setup['cfg'],
            str(tmp_path / 'out'),
            checkpoint=ckpt,
            device='cpu',
            progress=False,
            cfg_options={'model.distill_losses.loss_energykd.high_ratio': 0.3})


def test_teacher_bank_gives_the_live_teachers_energies(tmp_path):
    """The training split of a bank config reads the bank; the energies and
    groups equal the live teacher's on the same (seeded) views. The config
    has no energy loss: the Energy KD defaults (T_E 4, 0.2 / 0.2)."""
    from .bank_setup import build, make_setup
    setup = make_setup(str(tmp_path))
    bank = build(setup['config'], str(tmp_path / 'bank'))
    live = analyze_energy(
        setup['config'], str(tmp_path / 'live'), device='cpu', progress=False)
    banked = analyze_energy(
        setup['config'],
        str(tmp_path / 'banked'),
        device='cpu',
        progress=False,
        cfg_options={'model.teacher_bank': bank})
    assert banked['teacher_source'] == f'the teacher bank {bank}'
    assert live['teacher_source'] == 'the live teacher'
    assert live['consumer'] is None and live['energy_temperature'] == 4.0
    rows_live, _ = read_outputs(str(tmp_path / 'live'))
    rows_bank, saved = read_outputs(str(tmp_path / 'banked'))
    np.testing.assert_allclose([float(r['energy']) for r in rows_bank],
                               [float(r['energy']) for r in rows_live],
                               atol=1e-5)
    assert [r['teacher_pred'] for r in rows_bank] == \
        [r['teacher_pred'] for r in rows_live]
    check_groups_and_shares(rows_bank, saved)
    check_rule_thresholds(rows_bank, saved)


def test_kd_with_heda_is_split_by_heda(setup, tmp_path):
    """A KD + HE-DA config: HE-DA attached as its hook does, its ratios
    (low 0, high 0.5) split the data."""
    cfg = setup['cfg'].copy()
    cfg.model.distill_losses = dict(loss_kd=dict(type='KDLoss'))
    cfg.custom_hooks = [
        dict(type='HighEnergyAugmentHook', high_ratio=0.5, kd_term='kd')
    ]
    out = str(tmp_path / 'out')
    summary = analyze_energy(
        cfg, out, split='val', device='cpu', progress=False)
    assert summary['consumer'] == 'high_energy_augment'
    assert (summary['low_ratio'], summary['high_ratio']) == (0.0, 0.5)
    rows, saved = read_outputs(out)
    check_rule_thresholds(rows, saved)
    check_groups_and_shares(rows, saved)
    assert saved['counts']['low'] == 0 and saved['counts']['high'] == 5
