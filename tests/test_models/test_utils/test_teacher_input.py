# Copyright (c) mmenergykd contributors. All rights reserved.
"""The teacher's input made from the student's batch equals the teacher's
own preprocessing of the same raw images (MMPretrain's
ClsDataPreprocessor as the reference)."""
import mmcv
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models import ClsDataPreprocessor

from mmenergykd.models.utils.preprocess_spec import (ModelPreprocess,
                                                     preprocess_from_module)
from mmenergykd.models.utils.teacher_input import (TeacherInputAdapter,
                                                   resize_like_pipeline,
                                                   resize_mode)

IMAGENET = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
HALF = dict(mean=[127.5] * 3, std=[127.5] * 3, to_rgb=False)
BGR_IMAGENET = dict(
    mean=[103.53, 116.28, 123.675], std=[57.375, 57.12, 58.395], to_rgb=False)
CLIP = dict(
    mean=[0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255],
    std=[0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255],
    to_rgb=True)
NONE = dict(to_rgb=False)


def raw_batch(size=24, batch=3, seed=0):
    """Raw images as LoadImageFromFile + PackInputs give them: uint8 BGR."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(
        0, 256, (batch, 3, size, size), generator=g, dtype=torch.uint8)


def preprocess(settings, images):
    """MMPretrain's own normalisation of a (B, C, H, W) batch."""
    return ClsDataPreprocessor(**settings)(dict(inputs=images))['inputs']


def adapter_for(student,
                teacher,
                size=None,
                interpolation='bilinear',
                backend='cv2'):
    s = preprocess_from_module(ClsDataPreprocessor(**student), 'student')
    t = preprocess_from_module(ClsDataPreprocessor(**teacher), 'teacher')
    t = ModelPreprocess(t.mean, t.std, t.to_rgb, size, interpolation, backend,
                        'teacher')
    return TeacherInputAdapter(s, t)


@pytest.mark.parametrize('student,teacher',
                         [(IMAGENET, HALF), (IMAGENET, BGR_IMAGENET),
                          (HALF, IMAGENET), (IMAGENET, CLIP),
                          (CLIP, BGR_IMAGENET), (NONE, IMAGENET),
                          (IMAGENET, NONE)])
def test_equal_size_is_the_teachers_own_preprocessing(student, teacher):
    raw = raw_batch()
    adapter = adapter_for(student, teacher)
    got = adapter(preprocess(student, raw))
    want = preprocess(teacher, raw)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=0, atol=1e-4)
    # and it is not the student's batch (the check would be empty)
    assert not torch.allclose(preprocess(student, raw), want, atol=1e-2)


@pytest.mark.parametrize('interpolation,backend', [('bilinear', 'cv2'),
                                                   ('bilinear', 'pillow'),
                                                   ('bicubic', 'cv2'),
                                                   ('bicubic', 'pillow'),
                                                   ('nearest', 'cv2'),
                                                   ('nearest', 'pillow'),
                                                   ('area', 'cv2')])
@pytest.mark.parametrize('size', [(40, 40), (16, 20)])
def test_other_size_is_the_documented_interpolation(interpolation, backend,
                                                    size):
    raw = raw_batch(size=24)
    adapter = adapter_for(IMAGENET, HALF, size, interpolation, backend)
    got = adapter(preprocess(IMAGENET, raw))
    # the documented interpolation, written out on the raw float pixels
    mode, antialias = {
        ('bilinear', 'cv2'): ('bilinear', False),
        ('bilinear', 'pillow'): ('bilinear', True),
        ('bicubic', 'cv2'): ('bicubic', False),
        ('bicubic', 'pillow'): ('bicubic', True),
        ('nearest', 'cv2'): ('nearest', None),
        ('nearest', 'pillow'): ('nearest-exact', None),
        ('area', 'cv2'): ('area', None),
    }[(interpolation, backend)]
    kwargs = {} if antialias is None else dict(
        align_corners=False, antialias=antialias)
    resized = F.interpolate(raw.float(), size=size, mode=mode, **kwargs)
    want = preprocess(HALF, resized)
    assert got.shape == (3, 3) + size
    torch.testing.assert_close(got, want, rtol=0, atol=1e-4)


def test_identity_returns_the_same_tensor():
    inputs = preprocess(IMAGENET, raw_batch())
    adapter = adapter_for(IMAGENET, IMAGENET)
    assert adapter.is_identity
    assert adapter(inputs) is inputs
    # a size of its own equal to the batch's: still no work
    sized = adapter_for(IMAGENET, IMAGENET, size=(24, 24))
    assert not sized.is_identity
    assert sized(inputs) is inputs
    # same normalisation, another size: resized only
    out = adapter_for(IMAGENET, IMAGENET, size=(12, 12))(inputs)
    torch.testing.assert_close(
        out, F.interpolate(inputs, size=(12, 12), mode='bilinear'))
    assert 'unchanged' in adapter.describe()


def test_coefficients_follow_the_formula():
    s = ModelPreprocess(mean=(1., 2., 3.), std=(4., 5., 6.), to_rgb=True)
    t = ModelPreprocess(mean=(7., 8., 9.), std=(10., 11., 12.))
    scale, shift = TeacherInputAdapter(s,
                                       t).coefficients(3, torch.device('cpu'),
                                                       torch.float64)
    # teacher channel c reads student channel 2 - c (one of them flips)
    want_scale = [6 / 10, 5 / 11, 4 / 12]
    want_shift = [(3 - 7) / 10, (2 - 8) / 11, (1 - 9) / 12]
    assert scale.flatten().tolist() == pytest.approx(want_scale)
    assert shift.flatten().tolist() == pytest.approx(want_shift)


def test_grey_images_are_not_flipped_and_one_mean_broadcasts():
    s = ModelPreprocess(mean=(10., ), std=(2., ), to_rgb=True)
    t = ModelPreprocess(mean=(20., ), std=(4., ), to_rgb=False)
    x = torch.randn(2, 1, 5, 5)
    torch.testing.assert_close(
        TeacherInputAdapter(s, t)(x), (x * 2 + 10 - 20) / 4)
    with pytest.raises(ValueError, match='one value per channel'):
        TeacherInputAdapter(ModelPreprocess(mean=(1., 2.), std=(1., 1.)), t)(
            torch.zeros(1, 3, 2, 2))


def _smooth_uint8(size=64, seed=0):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (size // 8, size // 8, 3)).astype(np.uint8)
    return mmcv.imresize(coarse, (size, size), interpolation='bicubic')


@pytest.mark.parametrize('interpolation', ['bilinear', 'bicubic'])
@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
@pytest.mark.parametrize('out', [96, 40])
def test_close_to_the_pipelines_uint8_resize(interpolation, backend, out):
    """Against mmcv.imresize, which MMPretrain's Resize / ResizeEdge call:
    within one grey level on a natural (smooth) image, up and down."""
    img = _smooth_uint8()
    want = mmcv.imresize(
        img, (out, out), interpolation=interpolation, backend=backend)
    tensor = torch.from_numpy(img).permute(2, 0, 1)[None].float()
    got = resize_like_pipeline(tensor, (out, out), interpolation, backend)
    got = got[0].permute(1, 2, 0).round().clamp(0, 255).numpy()
    assert np.abs(got - want.astype(np.float64)).max() <= 1


def test_modes_of_kernels_pytorch_lacks():
    assert resize_mode('lanczos', 'cv2') == ('bicubic', False)
    assert resize_mode('lanczos', 'pillow') == ('bicubic', True)
    assert resize_mode('area', 'pillow') == ('area', None)
