# Copyright (c) mmenergykd contributors. All rights reserved.
"""Crafted checkpoints whose unpickling would run code are refused.

A teacher given as a local path, as a URL (downloaded from a local HTTP
server), and a checkpoint given to ``--resume``: each is refused with an
error, through ``tools/train.py``, and the code never runs.
"""
import functools
import http.server
import os
import threading

import pytest
import torch

from mmenergykd.utils import CheckpointSafetyError
from tests.helpers import make_imagenet_folder, save_tiny_teacher
from ._common import reliability_cfg, train_main, write_cfg


class _RunsCode:
    """Unpickling this calls os.system, which would create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


@pytest.fixture
def crafted(tmp_path):
    marker = tmp_path / 'code_ran'
    teacher = save_tiny_teacher(str(tmp_path / 't.pth'))
    good = torch.load(teacher, weights_only=True)
    path = tmp_path / 'serve' / 'evil_teacher.pth'
    path.parent.mkdir()
    # A valid teacher state dict plus one object that runs code.
    torch.save(
        dict(
            state_dict=good['state_dict'],
            meta=dict(note=_RunsCode(str(marker)))), path)
    data = make_imagenet_folder(
        str(tmp_path / 'data'), num_train=4, num_val=2, classes=5, size=20)
    return tmp_path, marker, str(path), data, teacher


def run(tmp_path, data, teacher, *args):
    cfg = reliability_cfg(
        str(tmp_path / 'work'), data, teacher, max_epochs=1, mixup=False)
    path = write_cfg(cfg, str(tmp_path / 'cfg.py'))
    train_main([path, '--work-dir', str(tmp_path / 'work')] + list(args))


def test_local_teacher_refused(crafted):
    tmp_path, marker, evil, data, _ = crafted
    with pytest.raises(CheckpointSafetyError, match='weights_only'):
        run(tmp_path, data, evil)
    assert not marker.exists()


def test_downloaded_teacher_refused(crafted, monkeypatch):
    tmp_path, marker, evil, data, _ = crafted
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=os.path.dirname(evil))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f'http://127.0.0.1:{server.server_address[1]}/evil_teacher.pth'
        with pytest.raises(CheckpointSafetyError, match='weights_only'):
            run(tmp_path, data, url)
    finally:
        server.shutdown()
    # it was downloaded (then refused), and nothing ran
    assert (tmp_path / 'torch_home' / 'hub' / 'checkpoints' /
            'evil_teacher.pth').exists()
    assert not marker.exists()


def test_crafted_resume_checkpoint_refused(crafted):
    tmp_path, marker, evil, data, teacher = crafted
    with pytest.raises(CheckpointSafetyError, match='weights_only'):
        run(tmp_path, data, teacher, '--resume', evil)
    assert not marker.exists()


class _Getattr:
    """A pickle that calls getattr on an allow-listed class."""

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return (getattr, (HistoryBuffer, self.name))


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    from mmengine.logging import HistoryBuffer, MessageHub

    from mmenergykd.utils import safe_torch_load
    hub = MessageHub.get_instance('safety_test')
    hub.update_scalar('train/loss', 2.5)
    path = str(tmp_path / 'hub.pth')
    torch.save(dict(message_hub=hub.state_dict(), stat=_Getattr('mean')), path)
    loaded = safe_torch_load(path)
    assert loaded['stat'] is HistoryBuffer.mean
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == 2.5
    for name in ('__init__', '__class__', 'update'):
        torch.save(dict(x=_Getattr(name)), path)
        with pytest.raises(CheckpointSafetyError):
            safe_torch_load(path)


def _seed_torchvision_cache(tmp_path, monkeypatch, marker):
    """A crafted file where MMEngine's ``torchvision://resnet18`` looks."""
    from mmengine.runner.checkpoint import get_torchvision_models
    home = tmp_path / 'torch_home'
    monkeypatch.setenv('TORCH_HOME', str(home))
    url = get_torchvision_models()['resnet18']
    cache = home / 'hub' / 'checkpoints' / os.path.basename(url)
    cache.parent.mkdir(parents=True)
    torch.save({'state_dict': {}, 'meta': _RunsCode(str(marker))}, cache)


@pytest.mark.parametrize('where', ['load_from', 'student_pretrained'])
def test_model_zoo_schemes_load_weights_only(crafted, monkeypatch, where):
    # torchvision:// (like modelzoo://, open-mmlab://, mmcls://) resolves a
    # name to a URL and downloads it through MMEngine's load_from_http,
    # which mmenergykd replaces with its weights-only loader.
    tmp_path, marker, _, data, teacher = crafted
    _seed_torchvision_cache(tmp_path, monkeypatch, marker)
    cfg = reliability_cfg(
        str(tmp_path / 'work'), data, teacher, max_epochs=1, mixup=False)
    if where == 'load_from':
        cfg.load_from = 'torchvision://resnet18'
    else:
        cfg.model.student.init_cfg = dict(
            type='Pretrained', checkpoint='torchvision://resnet18')
    path = write_cfg(cfg, str(tmp_path / 'cfg.py'))
    with pytest.raises(CheckpointSafetyError, match='weights_only'):
        train_main([path, '--work-dir', str(tmp_path / 'work')])
    assert not marker.exists()
    assert not (tmp_path / 'work' / 'epoch_1.pth').exists()
