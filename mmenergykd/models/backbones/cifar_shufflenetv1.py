# Copyright (c) mmenergykd contributors. All rights reserved.
"""ShuffleNetV1 of the CRD / mdistiller CIFAR-100 zoo (``ShuffleV1``).

A CIFAR variant of Zhang et al. (2018), g = 3: a 1x1 stem to 24 channels at
full resolution, three stages (4, 8, 4 units; 240, 480, 960 channels) whose
first unit halves the resolution and concatenates a 3x3 average-pooled
shortcut, ending at 4x4 for 32x32 inputs. As in the zoo, the first 1x1
group conv of a unit fed by the 24-channel stem is not grouped.
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmenergykd.registry import MODELS
from .cifar_zoo import zoo_arch


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` equal groups.

    Args:
        x (torch.Tensor): Input of shape (N, C, H, W), C divisible by groups.
        groups (int): Number of groups.

    Returns:
        torch.Tensor: Tensor of the same shape with shuffled channels.
    """
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h,
                  w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleV1Unit(nn.Module):
    """ShuffleNetV1 unit (bottleneck with grouped 1x1 convs).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Channels produced by the residual branch (for a
            stride-2 unit the input is concatenated to them).
        stride (int): 1 (residual add) or 2 (concat with avg-pooled input).
        groups (int): Groups of the 1x1 convs.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 groups: int) -> None:
        super().__init__()
        self.stride = stride
        mid_channels = out_channels // 4
        first_groups = 1 if in_channels == 24 else groups
        self.first_groups = first_groups
        self.conv1 = nn.Conv2d(
            in_channels, mid_channels, 1, groups=first_groups, bias=False)
        self.bn1 = nn.BatchNorm2d(mid_channels)
        self.conv2 = nn.Conv2d(
            mid_channels,
            mid_channels,
            3,
            stride=stride,
            padding=1,
            groups=mid_channels,
            bias=False)
        self.bn2 = nn.BatchNorm2d(mid_channels)
        self.conv3 = nn.Conv2d(
            mid_channels, out_channels, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the unit."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = channel_shuffle(out, self.first_groups)
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.stride == 2:
            shortcut = F.avg_pool2d(x, 3, stride=2, padding=1)
            return F.relu(torch.cat([out, shortcut], 1))
        return F.relu(out + x)


@MODELS.register_module()
class CifarShuffleNetV1(BaseModule):
    """ShuffleNetV1 for 32x32 inputs from the CRD / mdistiller zoo.

    The output is the last stage's feature map (4x4 for 32x32 inputs); pair
    it with ``GlobalAveragePooling`` and a ``LinearClsHead`` (the zoo's
    ``linear``).

    Args:
        arch (str | dict): ``'shufflenetv1'`` (the zoo's ``ShuffleV1``:
            channels 240-480-960, units 4-8-4, 3 groups) or a dict with
            ``out_channels``, ``num_blocks`` and ``groups``. Defaults to
            ``'shufflenetv1'``.
        in_channels (int): Input image channels. Defaults to 3.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to None (PyTorch's default initialisation, as the zoo).
    """

    arch_settings: Dict[str, dict] = {
        'shufflenetv1':
        dict(out_channels=(240, 480, 960), num_blocks=(4, 8, 4), groups=3),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'shufflenetv1',
                 in_channels: int = 3,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        arch = zoo_arch(self.arch_settings, arch)
        groups = arch['groups']
        self.conv1 = nn.Conv2d(in_channels, 24, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(24)
        channels = 24
        for i, (width, num_blocks) in enumerate(
                zip(arch['out_channels'], arch['num_blocks'])):
            units = []
            for j in range(num_blocks):
                # The first unit concatenates its input, so its residual
                # branch only produces ``width - channels`` channels.
                branch = width - channels if j == 0 else width
                units.append(
                    ShuffleV1Unit(channels, branch, 2 if j == 0 else 1,
                                  groups))
                channels = width
            self.add_module(f'layer{i + 1}', nn.Sequential(*units))
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """Return a 1-tuple with the last stage's feature map."""
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return (x, )
