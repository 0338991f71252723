# Copyright (c) mmenergykd contributors. All rights reserved.
"""Sampled teacher bank: K fixed RandomResizedCrop crops, top-k logits and
the exact log-sum-exp."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmenergykd.apis import build_teacher_bank
from mmenergykd.datasets import recording_pipeline
from mmenergykd.datasets.transforms import REPLAY_KEY
from mmenergykd.models.teacher_bank import (BankDamagedError, TeacherBank,
                                            encode_topk, reconstruct_logits,
                                            topk_kl)
from mmenergykd.registry import DATASETS, MODELS, TRANSFORMS
from tests.helpers import (make_imagenet_folder, save_tiny_teacher,
                           tiny_classifier)
from tests.test_apis.bank_setup import damaged_copy

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=16),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
#: The sampled bank's build: 4 crops x 2 flips, top-5, chunks of 2 images.
SETTINGS = dict(
    device='cpu',
    dtype='fp32',
    sampled_crops=4,
    topk=5,
    chunk_size=2,
    batch_size=16)
PREPROCESSOR = dict(
    type='mmpretrain.ClsDataPreprocessor',
    num_classes=20,
    mean=[127.5] * 3,
    std=[127.5] * 3)


def test_reconstruction_keeps_topk_and_energy():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 100, generator=gen) * 3
    logits[0] = 0.0  # ties
    logits[1, 5] = 80.0  # all mass in one class: the rest clamps
    values, indices, lse = encode_topk(logits, 10, 4.0)
    recon = reconstruct_logits(values, indices, lse, 100, 4.0)
    assert torch.equal(recon.gather(1, indices), values)
    assert torch.allclose(torch.logsumexp(recon[2:] / 4.0, 1), lse[2:])
    assert torch.isfinite(recon).all()
    # The other classes share one value, below the k-th largest.
    rest = recon.clone().scatter_(1, indices, float('nan'))
    for row, kth in zip(rest, values[:, -1]):
        row = row[~row.isnan()]
        assert torch.all(row == row[0]) and row[0] <= kth + 1e-5
    # KL written out: p = softmax(z / T), q = softmax(recon / T).
    kl = topk_kl(logits, 10, 4.0, [1.0, 4.0])
    for t in (1.0, 4.0):
        p = np.exp(logits.double().numpy() / t)
        p /= p.sum(1, keepdims=True)
        q = np.exp(recon.double().numpy() / t -
                   (recon.double().numpy() / t).max(1, keepdims=True))
        q /= q.sum(1, keepdims=True)
        expected = (p * (np.log(p + 1e-300) - np.log(q))).sum(1)
        np.testing.assert_allclose(
            kl[str(t)].numpy(), expected, rtol=1e-3, atol=1e-6)
    # k = C keeps everything.
    full = reconstruct_logits(*encode_topk(logits, 100, 4.0), 100, 4.0)
    assert torch.equal(full, logits)


def _crop_pipeline(num_crops=5, seed=3):
    cfg = recording_pipeline(PIPELINE[1:], num_crops=num_crops, view_seed=seed)
    return Compose([TRANSFORMS.build(t) for t in cfg])


def _run(pipeline, img, idx, **extra):
    packed = pipeline(dict(img=img, sample_idx=idx, **extra))
    return packed['inputs'].permute(1, 2, 0).numpy(), \
        packed['data_samples'].metainfo


def test_sampled_crops_record_and_replay():
    img = np.random.default_rng(0).integers(0, 256, (40, 30, 3), np.uint8)
    pipeline = _crop_pipeline()
    # Recording draws one crop index and one flip from the global stream.
    np.random.seed(5)
    recorded = [_run(pipeline, img, idx=2) for _ in range(20)]
    state = np.random.get_state()[1].copy()
    np.random.seed(5)
    for _, meta in recorded:
        crop = np.random.randint(5)
        assert meta['teacher_view'] % 5 == crop
        np.random.choice(['horizontal', None], p=[0.5, 0.5])
    assert np.array_equal(np.random.get_state()[1], state)
    boxes = set()
    for out, meta in recorded:
        assert meta['teacher_num_views'] == 10
        replayed, _ = _run(pipeline, img, 2,
                           **{REPLAY_KEY: meta['teacher_view']})
        assert np.array_equal(out, replayed)
    for view in range(10):
        out, meta = _run(pipeline, img, 2, **{REPLAY_KEY: view})
        top, left, height, width = _box(img, 2, view)
        # Written out: crop by the box, resize to 16 x 16, flip.
        t, lft = round(top * 40), round(left * 30)
        h, w = round(height * 40), round(width * 30)
        manual = cv2.resize(
            img[t:t + h, lft:lft + w], (16, 16),
            interpolation=cv2.INTER_LINEAR)
        if view >= 5:
            manual = manual[:, ::-1]
        assert np.array_equal(out, manual), view
        boxes.add((t, lft, h, w))
    assert len(boxes) == 5  # five different crops, each with two flips
    # Another sample, another seed: other crops.
    other, _ = _run(pipeline, img, 3, **{REPLAY_KEY: 0})
    reseeded, _ = _run(_crop_pipeline(seed=4), img, 2, **{REPLAY_KEY: 0})
    first, _ = _run(pipeline, img, 2, **{REPLAY_KEY: 0})
    assert not np.array_equal(first, other)
    assert not np.array_equal(first, reseeded)


def _box(img, idx, view):
    crop = _crop_pipeline().transforms[0]
    results = crop(dict(img=img, sample_idx=idx, **{REPLAY_KEY: view}))
    return results['teacher_crop_box']


@pytest.fixture(scope='module')
def sampled(tmp_path_factory):
    root = tmp_path_factory.mktemp('sampled')
    data = make_imagenet_folder(str(root / 'data'), num_train=5)
    ckpt = save_tiny_teacher(str(root / 't.pth'), num_classes=20)
    cfg = Config(
        dict(
            default_scope='mmpretrain',
            custom_imports=dict(imports=['mmenergykd']),
            model=dict(
                type='EnergyKDDistiller',
                student=tiny_classifier(20, base=4),
                teacher=tiny_classifier(20, base=8),
                teacher_ckpt=ckpt,
                data_preprocessor=PREPROCESSOR,
                distill_losses=dict()),
            train_dataloader=dict(
                batch_size=2,
                dataset=dict(
                    type='ImageNet',
                    data_root=data,
                    split='train',
                    pipeline=PIPELINE))))
    config = str(root / 'cfg.py')
    cfg.dump(config)
    out = str(root / 'bank')
    build_teacher_bank(config, out, **SETTINGS)
    return dict(config=config, out=out, ckpt=ckpt)


def test_sampled_bank_matches_live_teacher(sampled):
    cfg = Config.fromfile(sampled['config'])
    bank = TeacherBank.open(
        sampled['out'], expect=TeacherBank.expect_from_config(cfg))
    assert bank.kind == 'sampled' and bank.num_views == 8
    assert bank.recording_kwargs() == dict(num_crops=4, view_seed=0)
    dataset = DATASETS.build(
        dict(
            cfg.train_dataloader.dataset,
            pipeline=recording_pipeline(PIPELINE, **bank.recording_kwargs())))
    pairs = [(s, v) for s in range(5) for v in range(8)]
    packed = []
    for s, v in pairs:
        info = dataset.get_data_info(s)
        info[REPLAY_KEY] = v
        packed.append(dataset.pipeline(info))
    # The live teacher, loaded with plain PyTorch calls.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        teacher = MODELS.build(tiny_classifier(20, base=8))
        preprocessor = MODELS.build(PREPROCESSOR)
    teacher.load_state_dict(
        torch.load(sampled['ckpt'], weights_only=True)['state_dict'])
    teacher.eval()
    with torch.no_grad():
        inputs = preprocessor(
            dict(inputs=[p['inputs'] for p in packed]), False)['inputs']
        live = teacher.head(teacher.extract_feat(inputs))
    got = bank.lookup([p['data_samples'] for p in packed])
    values, indices, lse = encode_topk(live, 5, 4.0)
    assert torch.allclose(got.gather(1, indices), values, atol=1e-5)
    assert torch.allclose(torch.logsumexp(got / 4.0, 1), lse, atol=1e-5)
    # The energy -T_E * lse is exact, the distribution close.
    kl = topk_kl(live, 5, 4.0, [1.0, 4.0])
    header = json.load(open(osp.join(sampled['out'], 'header.json')))
    assert header['stats']['views'] == 40
    for t in ('1.0', '4.0'):
        mean = header['stats']['kl_sum'][t] / 40
        assert mean == pytest.approx(float(kl[t].mean()), rel=1e-3, abs=1e-7)
    with pytest.raises(AttributeError, match='sampled bank'):
        bank.array
    bank.check_energy_temperature(4.0)
    with pytest.raises(ValueError, match='--energy-temperature 2.0'):
        bank.check_energy_temperature(2.0)


def test_exact_bank_refuses_random_resized_crop(sampled, tmp_path):
    with pytest.raises(ValueError, match='--sampled-crops'):
        build_teacher_bank(
            sampled['config'], str(tmp_path / 'b'), device='cpu')


def test_damaged_sampled_bank_named_and_repaired(sampled, tmp_path):
    """A flipped bit in lse.bin (5 samples x 8 views x float32; chunks of
    2 samples, so bytes 64..127 are chunk 1): refused naming the chunk and
    its file; ``resume`` rebuilds that chunk, the header (statistics of the
    top-k reconstruction included) stays the original's."""
    bad = damaged_copy(
        sampled['out'], str(tmp_path / 'bad'), 70, 1, 0x10, file='lse.bin')
    cfg = Config.fromfile(sampled['config'])
    with pytest.raises(BankDamagedError) as info:
        TeacherBank.open(bad, expect=TeacherBank.expect_from_config(cfg))
    message = str(info.value)
    assert 'chunk 1: samples 2..3 (lse.bin)' in message, message
    assert ('--dtype fp32 --chunk-size 2 --sampled-crops 4 --view-seed 0 '
            '--topk 5 --energy-temperature 4.0 --resume') in message
    build_teacher_bank(sampled['config'], bad, resume=True, **SETTINGS)
    for name in ('lse.bin', 'topk_values.bin', 'topk_indices.bin',
                 'header.json'):
        with open(osp.join(bad, name), 'rb') as f, \
                open(osp.join(sampled['out'], name), 'rb') as g:
            assert f.read() == g.read(), name
