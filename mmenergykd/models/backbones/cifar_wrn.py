# Copyright (c) mmenergykd contributors. All rights reserved.
"""Wide ResNets (WRN-d-k) of the CRD / mdistiller CIFAR-100 model zoo.

Zagoruyko & Komodakis (2016) pre-activation wide residual networks with
three stages of widths ``16k, 32k, 64k`` after a 16-channel 3x3 stem and a
final BN + ReLU. One detail of the zoo's (and the original Torch) block is
kept on purpose because trained weights depend on it: when a block changes
the number of channels, its 1x1 projection shortcut is applied to the
*pre-activated* input ``relu(bn1(x))``, whereas an identity shortcut uses the
raw input ``x``.

Module names differ from the zoo in three places, handled by the converter:
``blockI.layer.J`` -> ``layerI.J``, ``convShortcut`` -> ``shortcut`` and the
final ``bn1`` -> ``bn_out``.
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmenergykd.registry import MODELS
from .cifar_zoo import ZOO_INIT_CFG, zoo_arch


class WideBasicBlock(nn.Module):
    """Pre-activation wide basic block.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the first 3x3 conv (and of the shortcut).
        drop_rate (float): Dropout probability between the two convs.
            Defaults to 0.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int,
                 drop_rate: float = 0.0) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.drop_rate = drop_rate
        # The zoo only projects when the channel count changes (a stride-2
        # block with equal widths would keep an identity shortcut).
        self.shortcut: Optional[nn.Conv2d] = None
        if in_channels != out_channels:
            self.shortcut = nn.Conv2d(
                in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the block."""
        act = F.relu(self.bn1(x))
        out = F.relu(self.bn2(self.conv1(act)))
        if self.drop_rate > 0:
            out = F.dropout(out, p=self.drop_rate, training=self.training)
        out = self.conv2(out)
        identity = x if self.shortcut is None else self.shortcut(act)
        return identity + out


@MODELS.register_module()
class CifarWideResNet(BaseModule):
    """Wide ResNet for 32x32 inputs from the CRD / mdistiller zoo.

    The output is the final BN + ReLU feature map (8x8 for 32x32 inputs);
    pair it with ``GlobalAveragePooling`` and a ``LinearClsHead``.

    Args:
        arch (str | dict): A zoo name (``'wrn_16_1'``, ``'wrn_16_2'``,
            ``'wrn_40_1'``, ``'wrn_40_2'``) or a dict with ``depth``
            (6n + 4) and ``widen_factor``. Defaults to ``'wrn_40_2'``.
        in_channels (int): Input image channels. Defaults to 3.
        drop_rate (float): Dropout probability inside the blocks (the zoo
            uses 0). Defaults to 0.
        init_cfg (dict | list[dict], optional): Initialisation config. The
            default reproduces the zoo's (Kaiming-normal fan-out convs, BN
            weights 1 and biases 0).
    """

    arch_settings: Dict[str, Tuple[int, int]] = {
        'wrn_16_1': (16, 1),
        'wrn_16_2': (16, 2),
        'wrn_40_1': (40, 1),
        'wrn_40_2': (40, 2),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'wrn_40_2',
                 in_channels: int = 3,
                 drop_rate: float = 0.0,
                 init_cfg: Optional[Union[dict,
                                          List[dict]]] = ZOO_INIT_CFG) -> None:
        super().__init__(init_cfg=init_cfg)
        depth, widen_factor = zoo_arch(self.arch_settings, arch,
                                       ('depth', 'widen_factor'))
        if (depth - 4) % 6 != 0:
            raise ValueError(f'depth must be 6n + 4, got {depth}')
        num_blocks = (depth - 4) // 6
        widths = (16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor)
        self.depth = depth
        self.widen_factor = widen_factor
        self.conv1 = nn.Conv2d(
            in_channels, widths[0], 3, stride=1, padding=1, bias=False)
        channels = widths[0]
        for i, (width, stride) in enumerate(zip(widths[1:], (1, 2, 2))):
            blocks = [
                WideBasicBlock(channels if j == 0 else width, width,
                               stride if j == 0 else 1, drop_rate)
                for j in range(num_blocks)
            ]
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            channels = width
        self.bn_out = nn.BatchNorm2d(channels)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """Return a 1-tuple with the final activated feature map."""
        x = self.conv1(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return (F.relu(self.bn_out(x)), )
