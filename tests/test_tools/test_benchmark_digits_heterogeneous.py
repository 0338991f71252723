# Copyright (c) mmenergykd contributors. All rights reserved.
"""tools/benchmark_digits.py --heterogeneous: a small ViT with a
distillation token at its own normalisation and size learns from the digits
CNN at the CNN's own; the teacher bank (built through the teacher input
adapter) gives the runs of the live adapted teacher."""
import os.path as osp

import pytest
from mmengine.config import Config

from tests.helpers import CONFIGS
from tests.test_tools.tool_import import import_tool_module

pytest.importorskip('sklearn')
pytest.importorskip('matplotlib')


def _load(module=''):
    name = 'analysis_tools.digits_benchmark'
    return import_tool_module(name + ('.' + module if module else ''))


def test_heterogeneous_setting_and_its_configs():
    tool, settings = _load(), _load('settings')
    try:
        args = tool.parse_args(['--heterogeneous'])
        assert args.methods == ['student', 'deit', 'kd', 'energykd']
        assert args.work_dir == 'work_dirs/digits_benchmark_hetero'
        assert tool.METHODS == settings.HETEROGENEOUS_METHODS
        student = Config.fromfile(
            osp.join(CONFIGS, tool.METHODS['student'][0]))
        assert student.model.backbone.type == 'VisionTransformer'
        for method in ('deit', 'kd', 'energykd'):
            cfg = Config.fromfile(osp.join(CONFIGS, tool.METHODS[method][0]))
            assert cfg.model.student.head.type == 'DeiTClsHead'
            (loss, ), = [cfg.model.distill_losses.values()]
            assert loss.student_head == 'dist'
            assert cfg.model.student_loss_weight == 0.5
            # the student at [-1, 1] and 32 px; the teacher at its own
            assert cfg.data_preprocessor.mean == [127.5] * 3
            assert cfg.train_dataloader.dataset.scale_factor == 4
            teacher = Config.fromfile(
                osp.join(CONFIGS,
                         cfg.model.teacher.split('::')[1]))
            assert teacher.data_preprocessor.mean == [77.84] * 3
            assert teacher.train_dataloader.dataset.scale_factor == 2
            assert cfg.model.teacher_input_size == 16
    finally:
        tool.parse_args([])
    assert tool.METHODS == settings.DEFAULT_METHODS
    assert 'deit' not in tool.METHODS


def test_tiny_heterogeneous_run_bank_equals_live(tmp_path, capfd, monkeypatch):
    tool = _load()
    monkeypatch.setenv('MMENERGYKD_DIGITS_TEACHER',
                       str(tmp_path / 'cache' / 'teacher.pth'))
    try:
        banked = tool.main([
            '--heterogeneous', '--epochs', '2', '--evaluations', '1',
            '--teacher-epochs', '1', '--seeds', '1', '--methods',
            'student,deit,energykd', '--workers', '1', '--work-dir',
            str(tmp_path / 'bank')
        ])
        out = capfd.readouterr().out
        assert banked['settings']['setting'] == 'heterogeneous'
        assert banked['settings']['teacher_bank'] is True
        assert banked['settings']['img_size'] == 32
        for label in ('ViT alone', 'Hard dist. (DeiT)',
                      'Energy KD, dist. tok.'):
            assert f'| {label} |' in out
        live = tool.main([
            '--heterogeneous', '--epochs', '2', '--seeds', '1', '--methods',
            'deit,energykd', '--workers', '1', '--no-bank', '--evaluations',
            '1', '--teacher-ckpt', banked['teacher']['checkpoint'],
            '--work-dir',
            str(tmp_path / 'live')
        ])
    finally:
        tool.parse_args([])
    assert live['settings']['teacher_bank'] is False
    for name in ('deit', 'energykd'):
        fast, slow = banked['runs'][name][0], live['runs'][name][0]
        assert fast['curve'] == slow['curve']
        assert fast['val_correct_last'] == slow['val_correct_last']
    thresholds = banked['runs']['energykd'][0]['thresholds']
    assert thresholds['loss_energykd'] == pytest.approx(
        live['runs']['energykd'][0]['thresholds']['loss_energykd'], abs=1e-5)
