# Copyright (c) mmenergykd contributors. All rights reserved.
"""The ResNet-50 of the CRD / mdistiller CIFAR-100 zoo (``ResNet50``).

The four-stage bottleneck ResNet-50 (widths 64-128-256-512, expansion 4,
stride on the 3x3 conv) with a CIFAR stem: one 3x3 stride-1 conv and no
max-pooling, so a 32x32 input ends at 4x4 with 2048 channels. It has the same
layers as MMPretrain's ``ResNet_CIFAR(depth=50)``, but keeps the zoo's module
names (``shortcut`` instead of ``downsample``, ``bnI`` instead of ``normI``) so
that the zoo's checkpoints load after a plain ``backbone.`` prefix.
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmenergykd.registry import MODELS
from .cifar_zoo import ZOO_INIT_CFG, projection_shortcut, zoo_arch


class CifarBottleneck(nn.Module):
    """Bottleneck block (1x1, 3x3, 1x1) with a projection shortcut.

    Args:
        in_channels (int): Input channels.
        planes (int): Width of the 3x3 conv; the block outputs
            ``4 * planes`` channels.
        stride (int): Stride of the 3x3 conv. Defaults to 1.
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(
            planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.shortcut = projection_shortcut(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the block."""
        identity = x if self.shortcut is None else self.shortcut(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + identity)


@MODELS.register_module()
class CifarResNet50(BaseModule):
    """Bottleneck ResNet-50 for 32x32 inputs from the CRD / mdistiller zoo.

    Four stages of bottlenecks (expansion 4, widths 64 to 512) after a 3x3
    stride-1 stem; it returns the 4x4 map of the last stage (for 32x32
    inputs), which ``GlobalAveragePooling`` and a ``LinearClsHead`` (the
    zoo's ``linear``) turn into logits.

    Args:
        arch (str | dict): ``'resnet50'`` (blocks 3-4-6-3) or a dict with
            ``num_blocks`` (4 entries) for other bottleneck depths.
            Defaults to ``'resnet50'``.
        in_channels (int): Input image channels. Defaults to 3.
        init_cfg (dict | list[dict], optional): Initialisation config. The
            default reproduces the zoo's (Kaiming-normal fan-out convs, BN
            weights 1 and biases 0).
    """

    arch_settings: Dict[str, Tuple[int, int, int, int]] = {
        'resnet50': (3, 4, 6, 3),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'resnet50',
                 in_channels: int = 3,
                 init_cfg: Optional[Union[dict,
                                          List[dict]]] = ZOO_INIT_CFG) -> None:
        super().__init__(init_cfg=init_cfg)
        num_blocks = tuple(zoo_arch(self.arch_settings, arch, 'num_blocks'))
        self.conv1 = nn.Conv2d(
            in_channels, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        channels = 64
        for i, (planes, blocks, stride) in enumerate(
                zip((64, 128, 256, 512), num_blocks, (1, 2, 2, 2))):
            layer = []
            for j in range(blocks):
                layer.append(
                    CifarBottleneck(channels, planes, stride if j == 0 else 1))
                channels = planes * CifarBottleneck.expansion
            self.add_module(f'layer{i + 1}', nn.Sequential(*layer))
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """Return a 1-tuple with the last stage's feature map."""
        x = F.relu(self.bn1(self.conv1(x)))
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = stage(x)
        return (x, )
