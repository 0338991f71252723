import os
import os.path as osp
import pickle

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.runner import CheckpointLoader

import mmenergykd  # noqa: F401
from mmenergykd.utils import CheckpointSafetyError, safe_torch_load


class _RunsCode:
    """Unpickling this calls os.system, writing a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_crafted_checkpoint_is_refused_and_code_not_run(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save(
        {
            'state_dict': {
                'w': torch.zeros(1)
            },
            'evil': _RunsCode(str(marker))
        }, path)
    with pytest.raises(CheckpointSafetyError, match='weights_only'):
        safe_torch_load(str(path))
    with pytest.raises(CheckpointSafetyError):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()


def test_runner_style_checkpoint_loads_with_weights_only(tmp_path):
    hub = MessageHub.get_instance('ckpt_test')
    hub.update_scalar('train/loss', 1.5)
    path = tmp_path / 'runner.pth'
    torch.save(
        dict(
            state_dict={'w': torch.ones(2)},
            message_hub=hub.state_dict(),
            meta=dict(seed=1, epoch=3)), path)
    # torch's default (weights_only=True) fails on MMEngine checkpoints...
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)
    # ...the registered loader keeps weights_only=True and succeeds
    loaded = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    restored = MessageHub.get_instance('ckpt_test_restored')
    restored.load_state_dict(loaded['message_hub'])
    assert restored.get_scalar('train/loss').current() == 1.5


def test_mmenergykd_configs_resolve_through_mim():
    from mmengine.hub import get_config
    cfg = get_config('mmenergykd::energykd/res34_res18_in1k.py')
    assert cfg.model.type == 'EnergyKDDistiller'
    assert cfg.model.distill_losses.loss_energykd.low_energy_temperature > \
        cfg.model.distill_losses.loss_energykd.high_energy_temperature
    assert osp.basename(cfg.filename) == 'res34_res18_in1k.py'


def test_pkg_resources_available_for_mmpretrain_configs():
    # setuptools >= 82 removed pkg_resources, which mmengine uses for every
    # `mmpretrain::` config; requirements pin setuptools<82.
    from mmengine.hub import get_config
    cfg = get_config('mmpretrain::resnet/resnet18_8xb32_in1k.py')
    assert cfg.model.backbone.depth == 18


@pytest.mark.parametrize('keep', [0, 1, 3, 10, 5000, 20000, 0.5, -10])
def test_cut_short_checkpoint_is_reported_as_corrupt(tmp_path, keep):
    # Every cut of a torch.save file (torch fails in its pickle reader, its
    # zip reader, or with OSError 'Invalid argument' depending on where the
    # cut falls) is a CorruptCheckpointError naming the file, never a
    # safety refusal or a bare OSError.
    from mmenergykd.utils.checkpoint import CorruptCheckpointError
    full = tmp_path / 'full.pth'
    torch.save({'state_dict': {'w': torch.randn(400, 100)}}, full)
    data = full.read_bytes()
    if isinstance(keep, float):
        keep = int(len(data) * keep)
    path = tmp_path / 'cut.pth'
    path.write_bytes(data[:keep])
    with pytest.raises(CorruptCheckpointError, match='cut short'):
        safe_torch_load(str(path))
    with pytest.raises(CorruptCheckpointError, match=str(path)):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')


def test_download_from_a_stalled_server_times_out(tmp_path, monkeypatch):
    # A server that accepts the connection and never answers: the download
    # gives up after DOWNLOAD_TIMEOUT_S with the local-path advice.
    import socket
    import time

    from mmenergykd.utils import checkpoint as ckpt_module
    monkeypatch.setattr(ckpt_module, 'DOWNLOAD_TIMEOUT_S', 1.0)
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    try:
        url = f'http://127.0.0.1:{server.getsockname()[1]}/teacher.pth'
        start = time.monotonic()
        with pytest.raises(ConnectionError, match='local file path'):
            ckpt_module.load_url_checkpoint(url, model_dir=str(tmp_path))
        assert time.monotonic() - start < 30
        assert socket.getdefaulttimeout() is None  # restored
    finally:
        server.close()
