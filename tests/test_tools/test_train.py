# Copyright (c) mmenergykd contributors. All rights reserved.
"""tools/train.py and tools/test.py are MMPretrain's, plus the listed
additions: compared with MMPretrain 1.2.0's own tools (installed with
mmpretrain in ``mmpretrain/.mim/tools``)."""
import argparse
import os.path as osp
import sys
from copy import deepcopy

import mmpretrain
import pytest
from mmengine.config import Config
from mmengine.registry import RUNNERS

from tests.helpers import REPO
from tests.test_tools.tool_import import import_tool_module

MMPRETRAIN_TOOLS = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools')


@pytest.fixture(scope='module')
def tools():
    return {
        (kind, owner):
        import_tool_module(kind, root, as_name=f'{owner}_{kind}_tool')
        for owner, root in (('ours', osp.join(REPO, 'tools')),
                            ('mmpretrain', MMPRETRAIN_TOOLS))
        for kind in ('train', 'test')
    }


def parse(module, argv, monkeypatch) -> argparse.Namespace:
    monkeypatch.setattr(sys, 'argv', ['tool.py'] + list(argv))
    return module.parse_args()


def base_cfg(tmp_path) -> Config:
    loader = dict(
        batch_size=2,
        num_workers=0,
        dataset=dict(type='SklearnDigits', pipeline=[dict(type='PackInputs')]),
        sampler=dict(type='DefaultSampler', shuffle=False))
    return Config(
        dict(
            model=dict(type='ImageClassifier'),
            train_dataloader=deepcopy(loader),
            val_dataloader=deepcopy(loader),
            test_dataloader=dict(loader, pin_memory=False),
            val_cfg=dict(),
            val_evaluator=dict(type='Accuracy'),
            test_cfg=dict(),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
            auto_scale_lr=dict(base_batch_size=256),
            train_cfg=dict(type='ResumableEpochBasedTrainLoop', max_epochs=1),
            default_hooks=dict(
                checkpoint=dict(type='AtomicCheckpointHook', interval=1),
                visualization=dict(type='VisualizationHook', enable=False)),
            custom_hooks=[
                dict(type='EnergyCalibrationHook'),
                dict(type='EMAHook')
            ],
            work_dir=str(tmp_path / 'work')))


TRAIN_ARGS = [
    [],
    ['--no-pin-memory', '--no-persistent-workers'],
    ['--amp', '--no-validate', '--auto-scale-lr'],
    ['--resume', 'RESUME', '--work-dir', 'W'],
    [
        '--cfg-options', 'train_dataloader.persistent_workers=False',
        'train_cfg.max_epochs=3'
    ],
    ['--launcher', 'pytorch', '--local-rank', '1'],
]


@pytest.mark.parametrize('args', TRAIN_ARGS, ids=range(len(TRAIN_ARGS)))
def test_train_flags_and_config_are_mmpretrains(tools, tmp_path, args,
                                                monkeypatch):
    resume = tmp_path / 'iter_1.pth'
    resume.write_bytes(b'')
    args = [str(resume) if a == 'RESUME' else a for a in args]
    config = str(tmp_path / 'cfg.py')
    base_cfg(tmp_path).dump(config)
    merged = {}
    for owner in ('ours', 'mmpretrain'):
        module = tools[('train', owner)]
        monkeypatch.delenv('LOCAL_RANK', raising=False)
        parsed = parse(module, [config] + args, monkeypatch)
        merged[owner] = (vars(parsed),
                         module.merge_args(Config.fromfile(config),
                                           parsed).to_dict())
    assert merged['ours'] == merged['mmpretrain']
    cfg = merged['ours'][1]
    # MMPretrain's dataloader defaults, --no-* honoured; nothing injected
    assert cfg['train_dataloader']['collate_fn'] == dict(
        type='default_collate')
    no_pin = '--no-pin-memory' in args
    assert cfg['train_dataloader']['pin_memory'] is not no_pin
    assert cfg['train_dataloader']['persistent_workers'] is not (
        '--no-persistent-workers' in args
        or 'train_dataloader.persistent_workers=False' in args)
    assert cfg['train_cfg']['type'] == 'ResumableEpochBasedTrainLoop'


def test_train_resume_auto_picks_the_newest_complete_checkpoint(
        tools, tmp_path, monkeypatch):
    import torch
    work = tmp_path / 'work'
    work.mkdir()
    torch.save({'state_dict': {}}, str(work / 'epoch_1.pth'))
    (work / 'epoch_2.pth').write_bytes(b'PK\x03\x04 cut short')
    (work / 'last_checkpoint').write_text(str(work / 'epoch_2.pth'))
    config = str(tmp_path / 'cfg.py')
    base_cfg(tmp_path).dump(config)
    module = tools[('train', 'ours')]
    parsed = parse(module, [config, '--resume'], monkeypatch)
    cfg = module.merge_args(Config.fromfile(config), parsed)
    assert cfg.resume is True and cfg.load_from is None  # MMPretrain's
    module.check_args(cfg, parsed)
    assert cfg.resume is True and cfg.load_from == str(work / 'epoch_1.pth')


@pytest.mark.parametrize('args',
                         [[], ['--tta'],
                          ['--no-pin-memory', '--amp', '--out', 'x.pkl']])
def test_test_flags_and_config_are_mmpretrains(tools, tmp_path, args,
                                               monkeypatch):
    config = str(tmp_path / 'cfg.py')
    base_cfg(tmp_path).dump(config)
    merged = {}
    for owner in ('ours', 'mmpretrain'):
        module = tools[('test', owner)]
        parsed = parse(module, [config, 'ckpt.pth'] + args, monkeypatch)
        merged[owner] = (vars(parsed),
                         module.merge_args(Config.fromfile(config),
                                           parsed).to_dict())
    ours, theirs = merged['ours'], merged['mmpretrain']
    assert ours[0] == theirs[0]
    # the one difference: the training-only hooks (and EMAHook under --tta)
    kept = ['EMAHook'] if '--tta' not in args else []
    assert [h['type'] for h in ours[1].pop('custom_hooks')] == kept
    assert [h['type'] for h in theirs[1].pop('custom_hooks')] == \
        ['EnergyCalibrationHook', 'EMAHook']
    assert ours[1] == theirs[1]


class _RecordingRunner:
    """Stands for a custom Runner: records that it was built and ran."""
    built = []

    @classmethod
    def from_cfg(cls, cfg):
        cls.built.append(cfg.work_dir)
        return cls()

    def train(self):
        self.built.append('train')


def test_train_honours_runner_type(tools, tmp_path, monkeypatch):
    name = 'MMEnergyKDTestRecordingRunner'
    if RUNNERS.get(name) is None:
        RUNNERS.register_module(name=name, module=_RecordingRunner)
    cfg = base_cfg(tmp_path)
    cfg.runner_type = name
    config = str(tmp_path / 'cfg.py')
    cfg.dump(config)
    _RecordingRunner.built.clear()
    monkeypatch.setattr(sys, 'argv', ['train.py', config])
    tools[('train', 'ours')].main()
    assert _RecordingRunner.built == [str(tmp_path / 'work'), 'train']


def test_tools_have_no_sys_path_tricks():
    for name in ('train.py', 'test.py', 'export_student.py'):
        with open(osp.join(REPO, 'tools', name)) as f:
            assert 'sys.path' not in f.read(), name
