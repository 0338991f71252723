# Copyright (c) mmenergykd contributors. All rights reserved.
"""CIFAR ResNets of the CRD / mdistiller model zoo (resnet8 ... resnet32x4).

These are the three-stage "ResNet for CIFAR" networks of He et al. (2016)
as used by the knowledge-distillation literature (CRD, DKD, Energy KD): a
3x3 stem without max-pooling, three stages of basic blocks (strides 1, 2, 2)
and a projection shortcut (1x1 conv + BN) wherever the shape changes. The
module names follow the zoo, so its checkpoints load after a plain
``backbone.`` prefix (see ``tools/convert_mdistiller_ckpt.py``).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmenergykd.registry import MODELS
from .cifar_zoo import ZOO_INIT_CFG, projection_shortcut, zoo_arch


class CifarBasicBlock(nn.Module):
    """Post-activation basic block (two 3x3 convs) of the CIFAR ResNets.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the first 3x3 conv. Defaults to 1.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = projection_shortcut(in_channels, out_channels,
                                              stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the block."""
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + identity)


@MODELS.register_module()
class CifarResNet(BaseModule):
    """ResNet for 32x32 inputs from the CRD / mdistiller CIFAR-100 zoo.

    ``resnetN`` has ``(N - 2) / 6`` basic blocks per stage and widths
    16-16-32-64; ``resnet8x4`` and ``resnet32x4`` are four times wider
    (32-64-128-256). The output is the last stage's feature map (8x8 for a
    32x32 input); pair it with ``GlobalAveragePooling`` and a
    ``LinearClsHead`` (the zoo's ``fc``).

    Args:
        arch (str | dict): A zoo name (``'resnet8'``, ``'resnet14'``,
            ``'resnet20'``, ``'resnet32'``, ``'resnet44'``, ``'resnet56'``,
            ``'resnet110'``, ``'resnet8x4'``, ``'resnet32x4'``) or a dict
            with ``depth`` (6n + 2) and ``widths`` (stem width and the
            widths of the three stages). Defaults to ``'resnet20'``.
        in_channels (int): Input image channels. Defaults to 3.
        init_cfg (dict | list[dict], optional): Initialisation config. The
            default reproduces the zoo's: Kaiming-normal (fan-out) convs,
            BN weights 1 and biases 0.
    """

    arch_settings: Dict[str, Tuple[int, Tuple[int, int, int, int]]] = {
        'resnet8': (8, (16, 16, 32, 64)),
        'resnet14': (14, (16, 16, 32, 64)),
        'resnet20': (20, (16, 16, 32, 64)),
        'resnet32': (32, (16, 16, 32, 64)),
        'resnet44': (44, (16, 16, 32, 64)),
        'resnet56': (56, (16, 16, 32, 64)),
        'resnet110': (110, (16, 16, 32, 64)),
        'resnet8x4': (8, (32, 64, 128, 256)),
        'resnet32x4': (32, (32, 64, 128, 256)),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'resnet20',
                 in_channels: int = 3,
                 init_cfg: Optional[Union[dict,
                                          List[dict]]] = ZOO_INIT_CFG) -> None:
        super().__init__(init_cfg=init_cfg)
        depth, widths = zoo_arch(self.arch_settings, arch, ('depth', 'widths'))
        widths = tuple(widths)
        if (depth - 2) % 6 != 0 or len(widths) != 4:
            raise ValueError('depth must be 6n + 2 and widths must have 4 '
                             f'entries, got depth={depth}, widths={widths}')
        num_blocks = (depth - 2) // 6
        self.depth = depth
        self.widths = widths
        self.conv1 = nn.Conv2d(
            in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        channels = widths[0]
        for i, (width, stride) in enumerate(zip(widths[1:], (1, 2, 2))):
            self.add_module(
                f'layer{i + 1}',
                self._make_layer(channels, width, num_blocks, stride))
            channels = width
        self.out_channels = channels

    @staticmethod
    def _make_layer(in_channels: int, out_channels: int, num_blocks: int,
                    stride: int) -> nn.Sequential:
        blocks: Sequence[nn.Module] = [
            CifarBasicBlock(in_channels if i == 0 else out_channels,
                            out_channels, stride if i == 0 else 1)
            for i in range(num_blocks)
        ]
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """Return a 1-tuple with the last stage's feature map."""
        x = F.relu(self.bn1(self.conv1(x)))
        for stage in (self.layer1, self.layer2, self.layer3):
            x = stage(x)
        return (x, )
