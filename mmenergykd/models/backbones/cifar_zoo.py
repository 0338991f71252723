# Copyright (c) mmenergykd contributors. All rights reserved.
"""What the CIFAR zoo backbones share: named architectures, the projection
shortcut and the CRD / mdistiller zoo's weight initialisation, as MMEngine
init_cfg."""
from typing import Any, List, Mapping, Optional, Sequence, Union

from torch import nn

__all__ = ['ZOO_INIT_CFG', 'zoo_init_cfg', 'zoo_arch', 'projection_shortcut']


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


def zoo_arch(arch_settings: Mapping[str, Any],
             arch: Union[str, dict],
             keys: Union[str, Sequence[str]] = ()) -> Any:
    """The settings of an architecture: a zoo name or a dict.

    Args:
        arch_settings (dict): Zoo name -> settings.
        arch (str | dict): A zoo name, or the settings as a dict.
        keys (str | Sequence[str]): Where the dict holds what a name's
            settings are: one key, or keys in the order of the named
            settings' tuple; empty: the dict is the settings itself.

    Returns:
        The named settings, or the dict's values at ``keys``.
    """
    if isinstance(arch, str):
        if arch not in arch_settings:
            raise KeyError(f'Unknown arch {arch!r}; choose from '
                           f'{sorted(arch_settings)} or pass a dict')
        return arch_settings[arch]
    if isinstance(keys, str):
        return arch[keys]
    return tuple(arch[key] for key in keys) if keys else arch


def projection_shortcut(in_channels: int, out_channels: int,
                        stride: int) -> Optional[nn.Sequential]:
    """The zoo ResNets' shortcut: 1x1 conv + BN where the shape changes.

    Args:
        in_channels (int): Input channels of the block.
        out_channels (int): Output channels of the block.
        stride (int): Stride of the block.

    Returns:
        nn.Sequential | None: The projection; None: the identity.
    """
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels))
