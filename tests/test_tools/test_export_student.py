import os.path as osp
import subprocess
import sys

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from tests.helpers import (CONFIGS, REPO, make_imagenet_folder,
                           save_teacher_for, tiny_imagenet_cfg)


def test_export_student_loads_in_plain_mmpretrain(tmp_path):
    config_path = osp.join(CONFIGS,
                           'kd/kd_resnet34_resnet18_8xb32_100e_in1k.py')
    data_root = make_imagenet_folder(str(tmp_path / 'data'))
    ckpt = save_teacher_for(
        Config.fromfile(config_path), str(tmp_path / 't.pth'))
    cfg = tiny_imagenet_cfg(config_path, str(tmp_path / 'work'), data_root,
                            ckpt)
    runner = Runner.from_cfg(cfg)
    runner.train()
    train_ckpt = str(tmp_path / 'work' / 'epoch_1.pth')
    out = str(tmp_path / 'student.pth')
    subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'export_student.py'), config_path, train_ckpt,
        out
    ],
                   check=True,
                   cwd=REPO)
    exported = torch.load(out, weights_only=True)
    # only MMPretrain's own types: the exported config imports nothing
    assert 'custom_imports' not in Config.fromfile(
        osp.splitext(out)[0] + '_config.py')
    student = runner.model.student.state_dict()
    assert set(exported['state_dict']) == set(student)
    for key, value in student.items():
        assert torch.equal(exported['state_dict'][key], value), key
    # Plain MMPretrain, in a fresh process that never imports mmenergykd:
    # get_model with the MMPretrain config name, strict key check, and the
    # inferencer on an image.
    image = osp.join(data_root, 'val', 'n00000000', 'img_0.JPEG')
    script = f'''
import torch, mmpretrain, sys
assert 'mmenergykd' not in sys.modules
model = mmpretrain.get_model('resnet18_8xb32_in1k', pretrained={out!r})
sd = torch.load({out!r})['state_dict']
result = model.load_state_dict(sd, strict=True)
assert not result.missing_keys and not result.unexpected_keys
ref = torch.load({train_ckpt!r}, weights_only=False)['state_dict']
for k, v in model.state_dict().items():
    assert torch.equal(v, ref['student.' + k]), k
cfg_model = mmpretrain.get_model({osp.splitext(out)[0] + '_config.py'!r},
                                 pretrained={out!r})
inferencer = mmpretrain.ImageClassificationInferencer(
    'resnet18_8xb32_in1k', pretrained={out!r})
pred = inferencer({image!r})[0]
assert 0 <= pred['pred_label'] < 1000
assert 'mmenergykd' not in sys.modules
print('OK')
'''
    result = subprocess.run([sys.executable, '-c', script],
                            capture_output=True,
                            text=True,
                            cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'OK' in result.stdout


def test_export_student_without_dataset_meta_loads_in_get_model(tmp_path):
    # A training checkpoint without `meta.dataset_meta` (a dataset that is
    # not a BaseDataset, or a hand-made file): the export leaves the key out,
    # so MMPretrain's get_model falls back to the config's dataset classes
    # instead of failing on `len(None)`.
    import mmpretrain

    from mmenergykd.apis import export_student, student_config_path
    from tests.helpers import (build_model, save_tiny_teacher,
                               tiny_distiller_cfg)
    teacher = save_tiny_teacher(str(tmp_path / 't.pth'))
    cfg = Config(dict(model=tiny_distiller_cfg(teacher)))
    cfg.dump(str(tmp_path / 'cfg.py'))
    model = build_model(cfg.model)
    train_ckpt = str(tmp_path / 'train.pth')
    torch.save(
        dict(meta=dict(epoch=1), state_dict=model.state_dict()), train_ckpt)
    out = export_student(
        str(tmp_path / 'cfg.py'), train_ckpt, str(tmp_path / 'student.pth'))
    assert 'dataset_meta' not in torch.load(out, weights_only=True)['meta']
    loaded = mmpretrain.get_model(student_config_path(out), pretrained=out)
    for key, value in model.student.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
