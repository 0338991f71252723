# Copyright (c) mmenergykd contributors. All rights reserved.
"""Where a teacher's preprocessing and input size come from: its config,
its model-index name, its dict, ``teacher_input_size``."""
import os.path as osp

import mmpretrain
import pytest
import yaml
from mmengine.config import Config
from mmpretrain.models import ClsDataPreprocessor

from mmenergykd.models.utils.model_source import (resolve_model_source,
                                                  zoo_model)
from mmenergykd.models.utils.preprocess_spec import (ModelPreprocess,
                                                     input_size,
                                                     pipeline_resize,
                                                     preprocess_from_module)
from mmenergykd.models.utils.teacher_input import resolve_teacher_preprocess

STUDENT = ModelPreprocess(
    mean=(123.675, 116.28, 103.53),
    std=(58.395, 57.12, 57.375),
    to_rgb=True,
    source='student')
MIM = osp.join(osp.dirname(mmpretrain.__file__), '.mim')


def metafile_entry(folder, name):
    """The model-index entry of ``name``, read from MMPretrain's metafile."""
    with open(osp.join(MIM, 'configs', folder, 'metafile.yml')) as f:
        models = yaml.safe_load(f)['Models']
    return next(m for m in models if m['Name'] == name)


@pytest.mark.parametrize('name,folder', [
    ('convnext-base_in21k-pre_3rdparty_in1k', 'convnext'),
    ('deit-tiny-distilled_3rdparty_in1k', 'deit'),
    ('regnetx-400mf_8xb128_in1k', 'regnet'),
])
def test_zoo_name_resolves_to_the_model_index_weights(name, folder):
    entry = metafile_entry(folder, name)
    source = resolve_model_source(name, 'teacher')
    assert source.zoo and source.reference == name
    assert source.weights == entry['Weights']
    assert source.weights.startswith('https://download.openmmlab.com/')
    # the model dict is that of the entry's config
    config = Config.fromfile(osp.join(MIM, entry['Config']))
    assert source.model.to_dict() == config.model.to_dict()
    # case is ignored, as mmpretrain.get_model ignores it
    assert zoo_model(name.upper()).weights == entry['Weights']


def test_unknown_name_says_what_is_accepted():
    with pytest.raises(FileNotFoundError, match='list_models'):
        resolve_model_source('no-such-model_in1k', 'teacher')


@pytest.mark.parametrize('ref,want', [
    ('convnext-base_in21k-pre_3rdparty_in1k',
     ((123.675, 116.28, 103.53), True, (224, 224), 'bicubic', 'pillow')),
    ('vit-base-p16_in21k-pre_3rdparty_in1k-384px',
     ((127.5, ) * 3, True, (384, 384), 'bilinear', 'pillow')),
    ('efficientnet-b3_3rdparty_8xb32_in1k', ((123.675, 116.28, 103.53), True,
                                             (300, 300), 'bicubic', 'cv2')),
    ('regnetx-400mf_8xb128_in1k', ((103.53, 116.28, 123.675), False,
                                   (224, 224), 'bilinear', 'cv2')),
    ('mmpretrain::resnet/resnet34_8xb32_in1k.py',
     ((123.675, 116.28, 103.53), True, (224, 224), 'bilinear', 'cv2')),
    ('mmpretrain::swin_transformer/swin-base_16xb64_in1k-384px.py',
     ((123.675, 116.28, 103.53), True, (384, 384), 'bicubic', 'pillow')),
])
def test_preprocessing_from_the_teachers_config(ref, want):
    found = resolve_teacher_preprocess(resolve_model_source(ref), STUDENT)
    assert found.mean == pytest.approx(want[0])
    assert (found.to_rgb, found.size, found.interpolation,
            found.backend) == want[1:]
    assert ref in found.source


def test_dict_teacher_and_teacher_input_size():
    plain = resolve_model_source(dict(type='ImageClassifier'))
    found = resolve_teacher_preprocess(plain, STUDENT)
    # no preprocessor of its own: the student's, no size
    assert found.same_pixels(STUDENT) and found.size is None
    own = resolve_model_source(
        dict(
            type='ImageClassifier',
            data_preprocessor=dict(
                type='ClsDataPreprocessor',
                num_classes=10,
                mean=[127.5] * 3,
                std=[127.5] * 3,
                to_rgb=False,
                batch_augments=dict(augments=[dict(type='Mixup')]))))
    found = resolve_teacher_preprocess(own, STUDENT, teacher_input_size=64)
    assert (found.mean, found.std, found.to_rgb) == ((127.5, ) * 3,
                                                     (127.5, ) * 3, False)
    # as float32 holds them: a config and a built preprocessor compare equal
    assert found.same_pixels(
        preprocess_from_module(
            ClsDataPreprocessor(
                mean=[127.5] * 3, std=[127.5] * 3, to_rgb=False), 'built'))
    assert found.size == (64, 64)
    assert (found.interpolation, found.backend) == ('bilinear', 'cv2')
    # overrides a config's size, keeps its interpolation
    cfg = resolve_model_source('convnext-base_in21k-pre_3rdparty_in1k')
    found = resolve_teacher_preprocess(cfg, STUDENT, (288, 320))
    assert found.size == (288, 320) and found.interpolation == 'bicubic'
    assert 'teacher_input_size' in found.source


def test_model_only_config_keeps_the_students_normalisation(tmp_path):
    path = tmp_path / 'model_only.py'
    path.write_text("model = dict(type='ImageClassifier')\n")
    found = resolve_teacher_preprocess(
        resolve_model_source(str(path)), STUDENT)
    assert found.same_pixels(STUDENT) and found.size is None


@pytest.mark.parametrize('value,want', [(224, (224, 224)),
                                        ((288, 320), (288, 320)),
                                        ([32, 16], (32, 16)), (None, None)])
def test_input_size(value, want):
    assert input_size(value) == want


@pytest.mark.parametrize('value', [0, -3, (1, 2, 3), 'big', 2.5, True])
def test_bad_input_size(value):
    with pytest.raises(ValueError, match='teacher_input_size'):
        input_size(value)


def test_pipeline_resize_rules():
    # ResizeEdge alone: the size depends on each image
    assert pipeline_resize([dict(type='ResizeEdge',
                                 scale=256)]) == (None, 'bilinear', 'cv2')
    # (w, h) of MMCV is returned as (H, W)
    assert pipeline_resize(
        [dict(type='Resize', scale=(320, 240),
              interpolation='bicubic')]) == ((240, 320), 'bicubic', 'cv2')
    assert pipeline_resize([
        dict(type='ResizeEdge', scale=256, backend='pillow'),
        dict(type='CenterCrop', crop_size=(200, 100))
    ]) == ((100, 200), 'bilinear', 'pillow')
    assert pipeline_resize(
        [dict(type='EfficientNetCenterCrop',
              crop_size=380)]) == ((380, 380), 'bicubic', 'cv2')
