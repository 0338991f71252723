# Copyright (c) mmenergykd contributors. All rights reserved.
"""A teacher bank and a teacher with its own preprocessing: the bank holds
the teacher's logits of its own input; a bank built without (before
teachers had their own preprocessing) is refused, with the rebuild
command."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.models import ClsDataPreprocessor

from mmenergykd.models.teacher_bank import TeacherBank
from mmenergykd.models.utils import teacher_input_record
from mmenergykd.registry import DATASETS
from tests.helpers import build_model
from tests.test_apis.bank_setup import NUM_SAMPLES, TEACHER, build, make_setup

OWN = dict(mean=[120.0, 110.0, 100.0], std=[60.0, 50.0, 40.0], to_rgb=True)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    return make_setup(str(tmp_path_factory.mktemp('bank')))


def _own_config(setup, path):
    """The bank test's config, the teacher with a preprocessor of its own
    (another mean / std, BGR -> RGB) and a 40 px input."""
    cfg = Config.fromfile(setup['config'])
    cfg.model.teacher = dict(
        copy.deepcopy(TEACHER),
        data_preprocessor=dict(type='ClsDataPreprocessor', **OWN))
    cfg.model.teacher_input_size = 40
    cfg.dump(path)
    return path


def _raw_images(config):
    cfg = Config.fromfile(config)
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, pipeline=[]))
    return [dataset.get_data_info(i)['img'] for i in range(len(dataset))]


def _view(img, view):
    """View ``view`` of the pipeline (RandomCrop 32, padding 4: 81 offsets;
    RandomFlip), numbered as the bank numbers them."""
    offset_h, offset_w = divmod(view % 81, 9)
    padded = np.pad(img, ((4, 4), (4, 4), (0, 0)))
    crop = padded[offset_h:offset_h + 32, offset_w:offset_w + 32]
    return crop[:, ::-1] if view >= 81 else crop


def test_bank_holds_the_teachers_own_input_and_old_banks_are_refused(setup):
    root = setup['root']
    plain = build(setup['config'], osp.join(root, 'plain'))
    own_cfg = _own_config(setup, osp.join(root, 'own_cfg.py'))
    expect = TeacherBank.expect_from_config(Config.fromfile(own_cfg))
    assert expect['teacher_input']['size'] == [40, 40]
    assert expect['teacher_input']['to_rgb'] is True
    # the bank built for the plain teacher has no `teacher_input`: a bank
    # of before this change; refused for the teacher with its own input
    with pytest.raises(ValueError) as info:
        TeacherBank.open(plain, expect=expect)
    message = str(info.value)
    assert 'teacher_input' in message
    assert 'python tools/build_teacher_bank.py' in message
    # rebuilt for it: its logits are the teacher's on its own input
    own = build(own_cfg, osp.join(root, 'own'))
    bank = TeacherBank.open(own, expect=expect)
    teacher = build_model(TEACHER)
    ckpt = Config.fromfile(setup['config']).model.teacher_ckpt
    state = torch.load(ckpt, weights_only=True)['state_dict']
    teacher.load_state_dict(state)
    teacher.eval()
    raw = _raw_images(setup['config'])
    pairs = [(0, 0), (3, 40), (NUM_SAMPLES - 1, 161)]
    images = torch.stack([
        torch.from_numpy(np.ascontiguousarray(_view(raw[s],
                                                    v))).permute(2, 0, 1)
        for s, v in pairs
    ]).float()
    resized = torch.nn.functional.interpolate(
        images, size=(40, 40), mode='bilinear', align_corners=False)
    inputs = ClsDataPreprocessor(**OWN)(dict(inputs=resized))['inputs']
    with torch.no_grad():
        live = teacher.head(teacher.extract_feat(inputs))
    stored = torch.stack(
        [torch.from_numpy(np.array(bank.array[s, v])) for s, v in pairs])
    torch.testing.assert_close(stored, live, rtol=1e-4, atol=1e-4)
    plain_bank = TeacherBank.open(
        plain,
        expect=TeacherBank.expect_from_config(
            Config.fromfile(setup['config'])))
    assert not np.allclose(plain_bank.array[0, 0], bank.array[0, 0])


def test_record_only_when_the_teacher_input_differs():
    imagenet = dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True)
    resnet34 = 'mmpretrain::resnet/resnet34_8xb32_in1k.py'
    crop = [dict(type='RandomResizedCrop', scale=224)]
    # its own preprocessing is the student's, at the training crop's size:
    # banks built before this change stay valid
    assert teacher_input_record(resnet34, imagenet, None, crop) is None
    assert teacher_input_record(
        dict(type='ImageClassifier'), imagenet, None, crop) is None
    # another size than the crops, or another normalisation: recorded
    small = [dict(type='RandomResizedCrop', scale=32)]
    assert teacher_input_record(resnet34, imagenet, None,
                                small)['size'] == [224, 224]
    other = dict(imagenet, to_rgb=False)
    assert teacher_input_record(resnet34, other, None, crop)['to_rgb']
