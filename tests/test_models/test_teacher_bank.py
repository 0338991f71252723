# Copyright (c) mmenergykd contributors. All rights reserved.
"""Exact teacher bank: build, look up against the live teacher, refusals,
resume after a kill, parallel build."""
import os
import os.path as osp
import pickle
import shutil

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmenergykd.apis import build_teacher_bank
from mmenergykd.models.teacher_bank import (BankWriter, TeacherBank,
                                            partial_path)
from mmenergykd.registry import DATASETS, MODELS
from tests.helpers import build_model, make_cifar100_folder
from tests.test_apis.bank_setup import (NUM_SAMPLES, PIPELINE, PREPROCESSOR,
                                        TEACHER, bank_config, save_teacher)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """A tiny CIFAR-100 layout, a saved random teacher, a config file."""
    root = tmp_path_factory.mktemp('bank')
    data = make_cifar100_folder(str(root / 'cifar'), train_per_class=1)
    ckpt = save_teacher(str(root / 'teacher.pth'), seed=0)
    return dict(
        root=root, config=bank_config(str(root), data, ckpt), ckpt=ckpt)


def _build(setup, out, **settings):
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        build_teacher_bank(
            setup['config'], out,
            **dict(
                dict(chunk_size=5, batch_size=64, device='cpu'), **settings))
    finally:
        torch.set_num_threads(old)
    return out


@pytest.fixture(scope='module')
def banks(setup):
    root = setup['root']
    return dict(
        fp32=_build(setup, str(root / 'b32'), dtype='fp32'),
        fp16=_build(setup, str(root / 'b16')))


def _expect(setup, **changes):
    cfg = Config.fromfile(setup['config'])
    cfg.merge_from_dict(changes)
    return TeacherBank.expect_from_config(cfg)


def _live_logits(setup, images):
    """The live teacher, built and loaded here with plain MMEngine calls,
    on HWC uint8 images."""
    teacher = build_model(TEACHER)
    state = torch.load(setup['ckpt'], weights_only=True)['state_dict']
    teacher.load_state_dict(state)
    teacher.eval()
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        preprocessor = MODELS.build(PREPROCESSOR)
    inputs = [
        torch.from_numpy(np.ascontiguousarray(i)).permute(2, 0, 1)
        for i in images
    ]
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            data = preprocessor(dict(inputs=inputs), False)
            return teacher.head(teacher.extract_feat(data['inputs']))
    finally:
        torch.set_num_threads(old)


def _raw_images(setup):
    cfg = Config.fromfile(setup['config'])
    dataset_cfg = dict(cfg.train_dataloader.dataset, pipeline=[])
    dataset = DATASETS.build(dataset_cfg)
    return [dataset.get_data_info(i)['img'] for i in range(len(dataset))]


def _view(img, view):
    """View ``view`` of CIFAR's pipeline written out by hand."""
    offset_h, offset_w = divmod(view % 81, 9)
    padded = np.pad(img, ((4, 4), (4, 4), (0, 0)))
    crop = padded[offset_h:offset_h + 32, offset_w:offset_w + 32]
    return crop[:, ::-1] if view >= 81 else crop


def test_lookup_equals_live_teacher(setup, banks):
    rng = np.random.default_rng(0)
    pairs = [(int(rng.integers(NUM_SAMPLES)), int(rng.integers(162)))
             for _ in range(40)]
    raw = _raw_images(setup)
    live = _live_logits(setup, [_view(raw[s], v) for s, v in pairs])
    samples = [dict(sample_idx=s, teacher_view=v) for s, v in pairs]
    expect = _expect(setup)
    bank32 = TeacherBank.open(banks['fp32'], expect=expect)
    bank16 = TeacherBank.open(banks['fp16'], expect=expect)
    assert (bank32.num_samples, bank32.num_views,
            bank32.num_classes) == (NUM_SAMPLES, 162, 100)
    got32 = bank32.lookup(samples, 'cpu')
    assert got32.dtype == torch.float32 and got32.shape == (40, 100)
    assert torch.equal(got32, live)
    assert torch.equal(bank16.lookup(samples), live.half().float())
    # File size: samples x views x classes x 2 bytes.
    assert osp.getsize(osp.join(banks['fp16'], 'logits.bin')) == \
        NUM_SAMPLES * 162 * 100 * 2


def test_recorded_training_views_look_up_their_images(setup, banks):
    """The training path: random views recorded by the pipeline."""
    from mmenergykd.datasets import recording_pipeline
    cfg = Config.fromfile(setup['config'])
    dataset = DATASETS.build(
        dict(
            cfg.train_dataloader.dataset,
            pipeline=recording_pipeline(PIPELINE)))
    np.random.seed(1)
    packed = [dataset[i % NUM_SAMPLES] for i in range(24)]
    images = [p['inputs'].permute(1, 2, 0).numpy() for p in packed]
    bank = TeacherBank.open(banks['fp32'], expect=_expect(setup))
    got = bank.lookup([p['data_samples'] for p in packed])
    assert torch.equal(got, _live_logits(setup, images))


def test_all_logits_and_copies(setup, banks):
    bank = TeacherBank.open(banks['fp32'], expect=_expect(setup))
    chunks = list(bank.all_logits(chunk=5))
    assert [len(idx) for idx, _ in chunks] == [5, 5, 2]
    assert torch.equal(
        torch.cat([i for i, _ in chunks]), torch.arange(NUM_SAMPLES))
    whole = torch.cat([block for _, block in chunks])
    assert whole.shape == (NUM_SAMPLES, 162, 100)
    sample = [dict(sample_idx=7, teacher_view=100)]
    assert torch.equal(whole[7, 100], bank.lookup(sample)[0])
    clone = pickle.loads(pickle.dumps(bank))
    assert torch.equal(clone.lookup(sample), bank.lookup(sample))


def test_lookup_refusals(setup, banks):
    bank = TeacherBank.open(banks['fp32'], expect=_expect(setup))
    with pytest.raises(ValueError, match='views \\[0, 162\\)'):
        bank.lookup([dict(sample_idx=0, teacher_view=162)])
    with pytest.raises(ValueError, match='samples \\[0, 12\\)'):
        bank.lookup([dict(sample_idx=12, teacher_view=0)])
    with pytest.raises(ValueError, match='recording_pipeline'):
        bank.lookup([dict(sample_idx=0)])
    with pytest.raises(ValueError, match='makes 25 views'):
        bank.lookup([dict(sample_idx=0, teacher_view=3, teacher_num_views=25)])


def test_other_teacher_dataset_pipeline_refused(setup, banks):
    other = save_teacher(str(setup['root'] / 'other.pth'), seed=1)
    cases = {
        'teacher.checkpoint_sha256':
        dict(model=dict(teacher_ckpt=other)),
        'dataset.split':
        dict(train_dataloader=dict(dataset=dict(split='test'))),
        'pipeline[0].padding':
        dict(
            train_dataloader=dict(
                dataset=dict(pipeline=[
                    dict(type='RandomCrop', crop_size=32, padding=2),
                    *PIPELINE[1:]
                ]))),
        'data_preprocessor.mean':
        dict(data_preprocessor=dict(mean=[0, 0, 0])),
    }
    for field, change in cases.items():
        with pytest.raises(ValueError) as info:
            TeacherBank.open(banks['fp16'], expect=_expect(setup, **change))
        message = str(info.value)
        assert field in message, message
        assert 'python tools/build_teacher_bank.py' in message
        assert setup['config'] in message


def test_truncated_or_unfinished_bank_refused(setup, banks):
    expect = _expect(setup)
    bad = str(setup['root'] / 'truncated')
    shutil.copytree(banks['fp16'], bad)
    logits = osp.join(bad, 'logits.bin')
    os.truncate(logits, osp.getsize(logits) - 200)
    with pytest.raises(ValueError, match='truncated'):
        TeacherBank.open(bad, expect=expect)
    unfinished = str(setup['root'] / 'unfinished')
    shutil.copytree(banks['fp16'], partial_path(unfinished))
    with pytest.raises(FileNotFoundError, match='--resume'):
        TeacherBank.open(unfinished, expect=expect)
    # A header without the completeness marker.
    header = osp.join(partial_path(unfinished), 'header.json')
    with open(header) as f:
        text = f.read().replace('"complete": true', '"complete": false')
    with open(header, 'w') as f:
        f.write(text)
    os.rename(partial_path(unfinished), unfinished)
    with pytest.raises(ValueError, match='not complete'):
        TeacherBank.open(unfinished, expect=expect)


def test_resume_after_kill(setup, banks, monkeypatch):
    out = str(setup['root'] / 'resumed')
    real_write = BankWriter.write_chunk
    calls = []

    def dying_write(self, chunk, data, stats=None):
        if len(calls) == 2:  # the process dies in the third chunk's write:
            self.array[10:12] = 7.0  # part of its data, no marker
            raise KeyboardInterrupt('killed')
        calls.append(chunk)
        real_write(self, chunk, data, stats)

    monkeypatch.setattr(BankWriter, 'write_chunk', dying_write)
    with pytest.raises(KeyboardInterrupt):
        _build(setup, out, dtype='fp32')
    monkeypatch.setattr(BankWriter, 'write_chunk', real_write)
    assert not osp.exists(out) and osp.isdir(partial_path(out))
    with pytest.raises(FileNotFoundError, match='--resume'):
        TeacherBank.open(out, expect=_expect(setup))
    with pytest.raises(FileExistsError, match='--resume'):
        _build(setup, out, dtype='fp32')
    with pytest.raises(ValueError, match='dtype'):  # not the same build
        _build(setup, out, resume=True)
    _build(setup, out, dtype='fp32', resume=True)
    assert not osp.exists(partial_path(out))
    expect = _expect(setup)
    resumed = TeacherBank.open(out, expect=expect).array
    assert np.array_equal(resumed,
                          TeacherBank.open(banks['fp32'], expect=expect).array)


def test_two_worker_processes(setup, banks, capsys):
    out = _build(
        setup,
        str(setup['root'] / 'parallel'),
        workers=2,
        chunk_size=4,
        dtype='fp32')
    printed = capsys.readouterr().out
    assert '12 samples x 162 views x 100 classes' in printed
    assert 'on 2 process(es)' in printed
    expect = _expect(setup)
    parallel = TeacherBank.open(out, expect=expect).array
    single = TeacherBank.open(banks['fp32'], expect=expect).array
    assert np.array_equal(parallel, single)
