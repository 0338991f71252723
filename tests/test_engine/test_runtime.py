# Copyright (c) mmenergykd contributors. All rights reserved.
"""``mmenergykd.engine.runtime``: process-group teardown."""
import torch.distributed as torch_dist

from mmenergykd.engine import shutdown_distributed


def test_shutdown_distributed_destroys_the_process_group(tmp_path):
    # A one-process gloo group, as tools/train.py's pytorch launcher makes.
    store = torch_dist.FileStore(str(tmp_path / 'store'), 1)
    torch_dist.init_process_group('gloo', store=store, rank=0, world_size=1)
    assert torch_dist.is_initialized()
    shutdown_distributed()
    assert not torch_dist.is_initialized()


def test_shutdown_distributed_without_a_group_is_a_no_op():
    assert not torch_dist.is_initialized()
    shutdown_distributed()
    assert not torch_dist.is_initialized()


def test_check_reliability_warns_only_for_undeclared_settings():
    from mmengine.config import Config

    from mmenergykd.engine import check_reliability
    declared = Config(
        dict(
            train_cfg=dict(type='ResumableEpochBasedTrainLoop', max_epochs=1),
            default_hooks=dict(
                checkpoint=dict(type='AtomicCheckpointHook', interval=1))))
    assert check_reliability(declared) == []
    plain = Config(
        dict(
            train_cfg=dict(by_epoch=True, max_epochs=1),
            default_hooks=dict(
                checkpoint=dict(type='CheckpointHook', interval=1))))
    before = plain.to_dict()
    found = check_reliability(plain)
    assert len(found) == 2
    assert 'ResumableEpochBasedTrainLoop' in found[0]
    assert 'AtomicCheckpointHook' in found[1]
    assert plain.to_dict() == before  # warns, injects nothing
    # iteration-based loops have no resumable variant: nothing to say
    iters = Config(dict(train_cfg=dict(by_epoch=False, max_iters=4)))
    assert check_reliability(iters) == []
