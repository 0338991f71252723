# Copyright (c) mmenergykd contributors. All rights reserved.
"""ShuffleNetV2 of the CRD / mdistiller CIFAR-100 zoo (``ShuffleV2``).

A CIFAR variant of Ma et al. (2018), 1x width: a 1x1 stem to 24 channels at
full resolution, three stages (116, 232, 464 channels) each made of one
down-sampling unit followed by 3, 7 and 3 basic units, and a final 1x1 conv
to 1024 channels; a 32x32 input ends at 4x4. Apart from the CIFAR stem
(no stride, no max-pooling), the units follow the paper.
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmenergykd.registry import MODELS
from .cifar_zoo import zoo_arch


def _shuffle2(x: torch.Tensor) -> torch.Tensor:
    """Channel shuffle with two groups."""
    n, c, h, w = x.shape
    return x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


def _depthwise(channels: int, stride: int) -> nn.Conv2d:
    """A 3x3 depthwise convolution (no bias)."""
    return nn.Conv2d(
        channels,
        channels,
        3,
        stride=stride,
        padding=1,
        groups=channels,
        bias=False)


class ShuffleV2DownUnit(nn.Module):
    """Stride-2 unit: both branches see the whole input.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels (half from each branch).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        mid = out_channels // 2
        # left branch: 3x3 depthwise (stride 2) -> 1x1
        self.conv1 = _depthwise(in_channels, 2)
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv2 = nn.Conv2d(in_channels, mid, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        # right branch: 1x1 -> 3x3 depthwise (stride 2) -> 1x1
        self.conv3 = nn.Conv2d(in_channels, mid, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv4 = _depthwise(mid, 2)
        self.bn4 = nn.BatchNorm2d(mid)
        self.conv5 = nn.Conv2d(mid, mid, 1, bias=False)
        self.bn5 = nn.BatchNorm2d(mid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the unit."""
        left = self.bn1(self.conv1(x))
        left = F.relu(self.bn2(self.conv2(left)))
        right = F.relu(self.bn3(self.conv3(x)))
        right = self.bn4(self.conv4(right))
        right = F.relu(self.bn5(self.conv5(right)))
        return _shuffle2(torch.cat([left, right], 1))


class ShuffleV2Unit(nn.Module):
    """Stride-1 unit: the first half of the channels passes through.

    Args:
        in_channels (int): Input (= output) channels.
        split_ratio (float): Fraction of channels passed through unchanged.
            Defaults to 0.5.
    """

    def __init__(self, in_channels: int, split_ratio: float = 0.5) -> None:
        super().__init__()
        self.split = int(in_channels * split_ratio)
        channels = self.split
        self.conv1 = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = _depthwise(channels, 1)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the unit."""
        kept, branch = x[:, :self.split], x[:, self.split:]
        branch = F.relu(self.bn1(self.conv1(branch)))
        branch = self.bn2(self.conv2(branch))
        branch = F.relu(self.bn3(self.conv3(branch)))
        return _shuffle2(torch.cat([kept, branch], 1))


@MODELS.register_module()
class CifarShuffleNetV2(BaseModule):
    """ShuffleNetV2 for 32x32 inputs from the CRD / mdistiller zoo.

    The output is the final 1x1 conv's activated feature map (4x4 for 32x32
    inputs); pair it with ``GlobalAveragePooling`` and a ``LinearClsHead``
    (the zoo's ``linear``).

    Args:
        arch (str | dict): ``'shufflenetv2'`` (the zoo's ``ShuffleV2``,
            net size 1: channels 116-232-464-1024, units 3-7-3) or a dict with
            ``out_channels`` (4 entries) and ``num_blocks`` (3 entries).
            Defaults to ``'shufflenetv2'``.
        in_channels (int): Input image channels. Defaults to 3.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to None (PyTorch's default initialisation, as the zoo).
    """

    arch_settings: Dict[str, dict] = {
        'shufflenetv2':
        dict(out_channels=(116, 232, 464, 1024), num_blocks=(3, 7, 3)),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'shufflenetv2',
                 in_channels: int = 3,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        arch = zoo_arch(self.arch_settings, arch)
        out_channels = tuple(arch['out_channels'])
        num_blocks = tuple(arch['num_blocks'])
        self.conv1 = nn.Conv2d(in_channels, 24, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(24)
        channels = 24
        for i, (width, blocks) in enumerate(zip(out_channels[:3], num_blocks)):
            units: List[nn.Module] = [ShuffleV2DownUnit(channels, width)]
            units += [ShuffleV2Unit(width) for _ in range(blocks)]
            self.add_module(f'layer{i + 1}', nn.Sequential(*units))
            channels = width
        self.conv2 = nn.Conv2d(channels, out_channels[3], 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels[3])
        self.out_channels = out_channels[3]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """Return a 1-tuple with the final activated feature map."""
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return (F.relu(self.bn2(self.conv2(x))), )
