# Copyright (c) mmenergykd contributors. All rights reserved.
"""The CRD / mdistiller zoo's weight initialisation, as MMEngine init_cfg."""
from typing import List

__all__ = ['ZOO_INIT_CFG', 'zoo_init_cfg']


def zoo_init_cfg(conv_bias: bool = False) -> List[dict]:
    """The zoo's initialisation.

    Conv weights from N(0, sqrt(2 / (k * k * out_channels))), i.e.
    Kaiming-normal in fan-out mode (for depthwise convs too: PyTorch's
    fan-out of a depthwise kernel is k * k * out); norm layers to 1.

    Args:
        conv_bias (bool): Also set conv biases to 0 (the zoo's VGG).

    Returns:
        list[dict]: An ``init_cfg`` list.
    """
    kaiming = dict(
        type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu')
    if conv_bias:
        kaiming['bias'] = 0
    return [
        kaiming,
        dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
    ]


ZOO_INIT_CFG = zoo_init_cfg()
