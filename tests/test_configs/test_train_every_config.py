"""Every config we ship trains two iterations under MMPretrain's train.py.

Through MMPretrain's own tools/train.py code path (mmpretrain_launcher.py),
so the resumable loop and the atomic checkpoint hook must come from the
config. The data are tiny local files and the teacher is random
(``allow_random`` in ``model.teacher_settings``): one epoch of two batches
of two images, validation on two images.
"""
import glob
import os.path as osp

import pytest
import torch

from tests.helpers import CONFIGS, make_cifar100_folder, make_imagenet_folder
from tests.test_configs.mmpretrain_launcher import (LOADERS,
                                                    train_like_mmpretrain)

SHIPPED = sorted(
    p for p in glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True)
    if '_base_' not in p)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    return dict(
        cifar=make_cifar100_folder(str(root / 'cifar')),
        imagenet=make_imagenet_folder(
            str(root / 'imagenet'), num_train=4, num_val=2))


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One intra-op thread: batches of two images gain nothing from more,
    and spinning threads cost several times the work on two cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize(
    'path', SHIPPED, ids=[osp.relpath(p, CONFIGS) for p in SHIPPED])
def test_config_trains_two_iterations(path, data, tmp_path):
    work_dir = str(tmp_path / osp.splitext(osp.basename(path))[0])
    shipped, cfg, runner = train_like_mmpretrain(path, work_dir, data)
    # as shipped under MMPretrain's defaults: no persistent workers for the
    # training loader (exact resume), none at all without workers
    assert shipped.train_dataloader.persistent_workers is False
    for loader in LOADERS:
        if shipped[loader].get('num_workers', 0) == 0:
            assert shipped[loader].persistent_workers is False, loader
    # declared by the config, not by a launcher
    assert type(runner.train_loop).__name__ == 'ResumableEpochBasedTrainLoop'
    hooks = {type(h).__name__ for h in runner.hooks}
    assert 'AtomicCheckpointHook' in hooks and 'CheckpointHook' not in hooks
    assert runner.iter == 2
    hub = runner.message_hub
    for name in cfg.model.get('distill_losses', {}):
        assert torch.isfinite(
            torch.tensor(hub.get_scalar(f'train/{name}').current())), name
    assert 'val/accuracy/top1' in hub.log_scalars
    saved = torch.load(osp.join(work_dir, 'epoch_1.pth'), weights_only=False)
    assert saved['meta']['iter'] == 2
    assert not any(k.startswith('teacher') for k in saved['state_dict'])
