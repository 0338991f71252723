# Copyright (c) mmenergykd contributors. All rights reserved.
"""apis/export.py: every config family's exported student loads in plain
MMPretrain (``get_model``, ``ImageClassificationInferencer``) in a process
whose own code never imports mmenergykd.

ImageNet (only MMPretrain types, no ``custom_imports``) is also run end to
end in ``tests/test_tools/test_export_student.py``.
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmcv import imread, imwrite
from mmengine.dataset import default_collate

from mmenergykd.apis import (export_student, registering_modules,
                             student_config, student_config_path)
from mmenergykd.registry import DATASETS, MODELS, TRANSFORMS
from tests.helpers import CONFIGS


def one_config(pattern: str) -> str:
    """The first (sorted) config matching ``pattern`` under configs/."""
    found = sorted(glob.glob(osp.join(CONFIGS, pattern), recursive=True))
    assert found, f'no config matches configs/{pattern}'
    return found[0]


FAMILIES = {
    'imagenet': ('energykd/res34_res18_in1k.py', []),
    'cifar100': ('energykd/energykd_*_cifar100.py', ['mmenergykd.models']),
    'cifar100_lt': ('*/*_cifar100-lt.py', ['mmenergykd.models']),
    'digits': ('energykd/energykd_*_digits.py',
               ['mmenergykd.datasets', 'mmenergykd.models']),
}


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_exported_config_imports_what_registers_its_types(family):
    pattern, expected = FAMILIES[family]
    cfg = student_config(one_config(pattern))
    assert registering_modules(cfg.to_dict()) == expected
    if expected:
        assert cfg.custom_imports == dict(
            imports=expected, allow_failed_imports=False)
    else:  # only MMPretrain's own types: nothing to import
        assert 'custom_imports' not in cfg
    # independent check: the types MMPretrain alone cannot build
    types = set()

    def visit(node):
        if isinstance(node, dict):
            if isinstance(node.get('type'), str):
                types.add(node['type'])
            list(map(visit, node.values()))
        elif isinstance(node, (list, tuple)):
            list(map(visit, node))

    visit(cfg.to_dict())
    ours = {
        t
        for t in types
        for registry in (MODELS, DATASETS, TRANSFORMS)
        if registry.get(t) is not None
        and registry.get(t).__module__.startswith('mmenergykd')
    }
    assert bool(ours) == bool(expected), ours


def test_registering_modules_finds_scoped_and_nested_types():
    cfg = dict(
        model=dict(backbone=dict(type='mmpretrain.CifarWideResNet')),
        pipeline=[dict(type='PackInputs')],
        extra=[dict(data=dict(type='SklearnDigits'))])
    assert registering_modules(cfg) == [
        'mmenergykd.datasets', 'mmenergykd.models'
    ]
    assert registering_modules(dict(model=dict(type='ImageClassifier'))) == []


def _build_student(config: str, seed: int = 0) -> torch.nn.Module:
    cfg = student_config(config)
    model_cfg = cfg.model.copy()
    model_cfg.data_preprocessor = dict(
        type='ClsDataPreprocessor', **cfg.data_preprocessor)
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model


def _save_training_checkpoint(model, path: str, classes) -> str:
    """A distiller training checkpoint: the student under ``student.``."""
    state = {'student.' + k: v for k, v in model.state_dict().items()}
    state['teacher.fc.weight'] = torch.zeros(1)  # not exported
    torch.save(
        dict(state_dict=state, meta=dict(dataset_meta=dict(classes=classes))),
        path)
    return path


def _predict_files(model, files) -> torch.Tensor:
    """Class scores for image files: MMPretrain's test pipeline by hand
    (``imread`` as the inferencer, ``PackInputs``, the preprocessor)."""
    pack = TRANSFORMS.build(dict(type='PackInputs'))
    batch = default_collate([
        pack(dict(img=imread(f), img_shape=(32, 32), ori_shape=(32, 32)))
        for f in files
    ])
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(batch, False)
        out = model(data['inputs'], data['data_samples'], mode='predict')
    return torch.stack([s.pred_score for s in out])


def _train_digits_student(model, steps: int = 80) -> None:
    """Adam steps on batches of 128 of the digits training split (the
    dataset's own 16x16 images), so that the exported student really
    classifies."""
    dataset = DATASETS.build(
        dict(
            type='SklearnDigits',
            split='train',
            scale_factor=2,
            pipeline=[dict(type='PackInputs')]))
    data = model.data_preprocessor(
        default_collate([dataset[i] for i in range(len(dataset))]), True)
    optim = torch.optim.Adam(model.parameters(), lr=0.03)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        idx = torch.randperm(len(dataset), generator=gen)[:128]
        loss = model(
            data['inputs'][idx], [data['data_samples'][i] for i in idx],
            mode='loss')
        optim.zero_grad()
        sum(loss.values()).backward()
        optim.step()


PLAIN_MMPRETRAIN = r'''
import json, sys
import torch
import mmpretrain
assert 'mmenergykd' not in sys.modules
cases = json.load(open(sys.argv[1]))
result = {}
for name, case in cases.items():
    model = mmpretrain.get_model(case['config'], pretrained=case['weights'])
    weights = torch.load(case['weights'], weights_only=True)['state_dict']
    for key, value in model.state_dict().items():
        assert torch.equal(value, weights[key]), (name, key)
    inferencer = mmpretrain.ImageClassificationInferencer(
        case['config'], pretrained=case['weights'])
    preds = inferencer(case['images'], batch_size=256)
    result[name] = dict(
        scores=[p['pred_scores'].tolist() for p in preds],
        labels=[int(p['pred_label']) for p in preds],
        classes=[p['pred_class'] for p in preds[:3]])
# mmenergykd came in only through the exported config's custom_imports
result['imported'] = sorted(m for m in sys.modules
                            if m.startswith('mmenergykd.'))
json.dump(result, open(sys.argv[2], 'w'))
'''


@pytest.fixture
def one_thread():
    # Two cores shared with other tests' subprocesses: one thread avoids
    # oversubscription (several times slower).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_exported_students_classify_in_plain_mmpretrain(tmp_path, one_thread):
    from sklearn.datasets import load_digits
    cases, expected = {}, {}
    rng = np.random.default_rng(0)
    for family in ('cifar100', 'cifar100_lt'):
        config = one_config(FAMILIES[family][0])
        model = _build_student(config)
        images = []
        for i in range(3):
            path = str(tmp_path / f'{family}_{i}.png')
            imwrite(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), path)
            images.append(path)
        classes = [f'c{i}' for i in range(100)]
        expected[family] = _predict_files(model, images)
        cases[family] = _export(config, model, classes, tmp_path, family,
                                images)

    # digits: real handwritten digits, the 899 held-out images, written
    # as PNG files the way the dataset upscales them (8x8 -> 16x16).
    config = one_config(FAMILIES['digits'][0])
    model = _build_student(config)
    _train_digits_student(model)
    val = DATASETS.build(
        dict(
            type='SklearnDigits',
            split='val',
            scale_factor=2,
            pipeline=[dict(type='PackInputs')]))
    images, labels = [], []
    for i in range(len(val)):
        sample = val[i]
        path = str(tmp_path / f'digit_{i}.png')
        imwrite(sample['inputs'].permute(1, 2, 0).numpy(), path)
        images.append(path)
        labels.append(int(sample['data_samples'].gt_label))
    model.eval()
    with torch.no_grad():  # the student on the dataset's own tensors
        batch = default_collate([val[i] for i in range(len(val))])
        data = model.data_preprocessor(batch, False)
        own = torch.stack([
            s.pred_score for s in model(
                data['inputs'], data['data_samples'], mode='predict')
        ])
    cases['digits'] = _export(config, model, [str(i) for i in range(10)],
                              tmp_path, 'digits', images)
    assert len(labels) == 899 and len(load_digits().target) == 1797

    spec = str(tmp_path / 'cases.json')
    with open(spec, 'w') as f:
        json.dump(cases, f)
    out = str(tmp_path / 'result.json')
    proc = subprocess.run([sys.executable, '-c', PLAIN_MMPRETRAIN, spec, out],
                          cwd=str(tmp_path),
                          env=dict(os.environ, OMP_NUM_THREADS='1'),
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    with open(out) as f:
        result = json.load(f)
    assert 'mmenergykd.models' in result['imported']
    assert 'mmenergykd.datasets' in result['imported']
    for family in ('cifar100', 'cifar100_lt'):
        torch.testing.assert_close(
            torch.tensor(result[family]['scores']),
            expected[family],
            atol=1e-5,
            rtol=0)
    digits = result['digits']
    assert digits['labels'] == own.argmax(1).tolist()
    torch.testing.assert_close(
        torch.tensor(digits['scores']), own, atol=1e-5, rtol=0)
    accuracy = np.mean(np.array(digits['labels']) == np.array(labels))
    own_accuracy = (own.argmax(1) == torch.tensor(labels)).float().mean()
    assert accuracy == pytest.approx(own_accuracy.item())
    assert accuracy > 0.8, accuracy  # it really classifies digits
    assert digits['classes'] == [str(i) for i in digits['labels'][:3]]


def _export(config, model, classes, tmp_path, name, images) -> dict:
    ckpt = _save_training_checkpoint(model,
                                     str(tmp_path / f'{name}_train.pth'),
                                     classes)
    out = export_student(config, ckpt, str(tmp_path / f'{name}.pth'))
    return dict(config=student_config_path(out), weights=out, images=images)
