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
