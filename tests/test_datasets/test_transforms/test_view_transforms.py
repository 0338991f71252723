# Copyright (c) mmenergykd contributors. All rights reserved.
"""View recording / replay of RandomCrop and RandomFlip."""
import numpy as np
import pytest
from mmcv.transforms import Compose

from mmenergykd.datasets.transforms import (REPLAY_KEY, ViewRandomFlip,
                                            recording_pipeline)
from mmenergykd.registry import TRANSFORMS

CIFAR = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]


def _compose(pipeline):
    return Compose([TRANSFORMS.build(t) for t in pipeline])


def _images(num, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return [
        rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        for _ in range(num)
    ]


def _expected_view(img, view, pad=4, size=32):
    """The view written out by hand: zero padding, crop at the offset of
    ``view % n^2`` (row-major), horizontal flip when ``view >= n^2``."""
    n = 2 * pad + 1
    offset_h, offset_w = divmod(view % (n * n), n)
    padded = np.pad(img, ((pad, pad), (pad, pad), (0, 0)))
    crop = padded[offset_h:offset_h + size, offset_w:offset_w + size]
    return crop[:, ::-1] if view >= n * n else crop


def _run(pipeline, img, **extra):
    packed = pipeline(dict(img=img, img_shape=img.shape[:2], **extra))
    image = packed['inputs'].permute(1, 2, 0).numpy()
    return image, packed['data_samples'].metainfo


def test_recording_is_the_same_computation_as_plain():
    """Same seed: the same images, and NumPy's random state ends equal."""
    images = _images(40)
    plain, recorded = _compose(CIFAR), _compose(recording_pipeline(CIFAR))
    np.random.seed(3)
    out_plain = [_run(plain, img)[0] for img in images]
    state_plain = np.random.get_state()[1].copy()
    np.random.seed(3)
    out_rec = [_run(recorded, img) for img in images]
    assert np.array_equal(np.random.get_state()[1], state_plain)
    views = set()
    for img, a, (b, meta) in zip(images, out_plain, out_rec):
        assert np.array_equal(a, b)
        # The recorded view id reproduces the image independently.
        assert np.array_equal(b, _expected_view(img, meta['teacher_view']))
        assert meta['teacher_num_views'] == 162
        views.add(meta['teacher_view'])
    assert len(views) > 20  # really random


def test_replay_gives_every_cifar_view():
    img = _images(1)[0]
    pipeline = _compose(recording_pipeline(CIFAR))
    seen = set()
    for view in range(162):
        out, meta = _run(pipeline, img, **{REPLAY_KEY: view})
        assert meta['teacher_view'] == view
        assert np.array_equal(out, _expected_view(img, view))
        seen.add(out.tobytes())
    assert len(seen) == 162
    # Replay draws nothing.
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    _run(pipeline, img, **{REPLAY_KEY: 7})
    assert np.array_equal(np.random.get_state()[1], before)
    # A view beyond the bank wraps, so the recorded id tells it apart.
    _, meta = _run(pipeline, img, **{REPLAY_KEY: 162})
    assert meta['teacher_view'] != 162


def test_digits_pipeline_has_25_views():
    digits = [
        dict(type='RandomCrop', crop_size=16, padding=2),
        dict(type='PackInputs')
    ]
    pipeline = _compose(recording_pipeline(digits))
    img = _images(1, size=16)[0]
    for view in range(25):
        out, meta = _run(pipeline, img, **{REPLAY_KEY: view})
        assert meta['teacher_num_views'] == 25
        assert np.array_equal(out, _expected_view(img, view, pad=2, size=16))


def test_flip_with_two_directions_has_three_choices():
    flip = ViewRandomFlip(prob=0.6, direction=['horizontal', 'vertical'])
    img = _images(1)[0]
    expected = [img, img[:, ::-1], img[::-1]]
    for choice in range(3):
        results = flip(dict(img=img.copy(), **{REPLAY_KEY: choice}))
        assert results['teacher_view'] == choice
        assert results['teacher_num_views'] == 3
        assert np.array_equal(results['img'], expected[choice])


def test_recording_pipeline_settings_and_refusals():
    out = recording_pipeline(CIFAR)
    assert [t['type'] for t in out
            ] == ['ViewRandomCrop', 'ViewRandomFlip', 'PackInputs']
    assert out[0]['padding'] == 4 and CIFAR[0]['type'] == 'RandomCrop'
    assert out[2]['meta_keys'][-2:] == ('teacher_view', 'teacher_num_views')
    assert 'sample_idx' in out[2]['meta_keys']
    custom = recording_pipeline([dict(type='PackInputs', meta_keys=['x'])])
    assert custom[0]['meta_keys'] == ('x', 'sample_idx', 'teacher_view',
                                      'teacher_num_views')
    with pytest.raises(ValueError, match='RandomResizedCrop'):
        recording_pipeline([
            dict(type='RandomResizedCrop', scale=32),
            dict(type='PackInputs')
        ])
    with pytest.raises(ValueError, match='PackInputs'):
        recording_pipeline([dict(type='RandomCrop', crop_size=32)])
