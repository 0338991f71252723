# Copyright (c) mmenergykd contributors. All rights reserved.
"""MobileNetV2 of the CRD / mdistiller CIFAR-100 zoo (``mobile_half``).

The zoo's MobileNetV2 for 32x32 inputs keeps the ImageNet layout (stride-2
stem, seven inverted-residual stages with strides 1, 1, 2, 2, 1, 2, 1 and a
1x1 conv to 1280 channels), so a 32x32 image ends at 2x2. ``mobile_half``
uses an expansion ratio of 6 for all but the first stage and half width
(channels 16 / 8-12-16-32-48-80-160 / 1280): the last conv keeps 1280
channels, because the zoo only scales it for width multipliers above 1.
"""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmenergykd.registry import MODELS
from .cifar_zoo import ZOO_INIT_CFG, zoo_arch

# (expand ratio or None for "T", output channels, blocks, first stride)
_STAGES = ((1, 16, 1, 1), (None, 24, 2, 1), (None, 32, 3, 2), (None, 64, 4, 2),
           (None, 96, 3, 1), (None, 160, 3, 2), (None, 320, 1, 1))


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int,
                  stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            kernel_size // 2,
            bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class CifarInvertedResidual(nn.Module):
    """Inverted residual block: 1x1 expand, 3x3 depthwise, 1x1 project.

    The layers sit in ``self.conv`` (an ``nn.Sequential``) at the zoo's
    indices: conv 0, BN 1, conv 3, BN 4, conv 6, BN 7. The expansion conv is
    present even for an expansion ratio of 1, as in the zoo.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the depthwise conv (1 or 2).
        expand_ratio (int): Hidden width as a multiple of ``in_channels``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 expand_ratio: int) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f'stride must be 1 or 2, got {stride}')
        hidden = in_channels * expand_ratio
        self.use_residual = stride == 1 and in_channels == out_channels
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1, 1, 0, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, out_channels, 1, 1, 0, bias=False),
            nn.BatchNorm2d(out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the block."""
        out = self.conv(x)
        return x + out if self.use_residual else out


@MODELS.register_module()
class CifarMobileNetV2(BaseModule):
    """MobileNetV2 for 32x32 inputs from the CRD / mdistiller zoo.

    The output is the final 1x1-conv feature map (2x2 for 32x32 inputs, where
    the zoo's ``AvgPool2d(2, ceil_mode=True)`` equals a global average);
    pair it with ``GlobalAveragePooling`` and a ``LinearClsHead`` (the zoo's
    ``classifier.0``).

    Args:
        arch (str | dict): ``'mobile_half'`` (expansion 6, width 0.5: the
            zoo's ``MobileNetV2`` student) or a dict with ``expand_ratio``
            and ``widen_factor``. Defaults to ``'mobile_half'``.
        in_channels (int): Input image channels. Defaults to 3.
        init_cfg (dict | list[dict], optional): Initialisation config. The
            default reproduces the zoo's (Kaiming-normal fan-out convs, BN
            weights 1 and biases 0).
    """

    arch_settings: Dict[str, Tuple[int, float]] = {
        'mobile_half': (6, 0.5),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'mobile_half',
                 in_channels: int = 3,
                 init_cfg: Optional[Union[dict,
                                          List[dict]]] = ZOO_INIT_CFG) -> None:
        super().__init__(init_cfg=init_cfg)
        expand_ratio, widen_factor = zoo_arch(self.arch_settings, arch,
                                              ('expand_ratio', 'widen_factor'))
        self.expand_ratio = expand_ratio
        self.widen_factor = widen_factor

        channels = int(32 * widen_factor)
        self.conv1 = _conv_bn_relu(in_channels, channels, 3, 2)
        self.blocks = nn.ModuleList()
        for ratio, width, num_blocks, stride in _STAGES:
            out_channels = int(width * widen_factor)
            stage = []
            for j in range(num_blocks):
                stage.append(
                    CifarInvertedResidual(
                        channels, out_channels, stride if j == 0 else 1,
                        expand_ratio if ratio is None else ratio))
                channels = out_channels
            self.blocks.append(nn.Sequential(*stage))
        last_channels = (
            int(1280 * widen_factor) if widen_factor > 1.0 else 1280)
        self.conv2 = _conv_bn_relu(channels, last_channels, 1, 1)
        self.out_channels = last_channels

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """Return a 1-tuple with the last conv's feature map."""
        x = self.conv1(x)
        for stage in self.blocks:
            x = stage(x)
        return (self.conv2(x), )
