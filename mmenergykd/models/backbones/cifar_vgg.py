# Copyright (c) mmenergykd contributors. All rights reserved.
"""VGG-BN networks of the CRD / mdistiller CIFAR-100 zoo (vgg8 ... vgg19).

The zoo's ``vggN`` names refer to the batch-normalised variants
(``vggN_bn``). Five blocks of 3x3 conv (with bias) + BN + ReLU, with 2x2
max-pooling after the first three blocks. The fourth max-pool is applied only
to 64x64 inputs (the zoo's Tiny-ImageNet setting); for 32x32 inputs the last
two blocks both run at 4x4. The zoo ends with a global average pool and a
512 -> num_classes linear layer (``classifier``), i.e. MMPretrain's
``GlobalAveragePooling`` neck and ``LinearClsHead``.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmenergykd.registry import MODELS
from .cifar_zoo import zoo_arch, zoo_init_cfg

_ZOO_INIT_CFG = zoo_init_cfg(conv_bias=True)


@MODELS.register_module()
class CifarVGG(BaseModule):
    """VGG with batch normalisation for 32x32 inputs (CRD / mdistiller zoo).

    Each block ``blockI`` is an ``nn.Sequential`` of ``conv, bn, relu, conv,
    bn, ..., conv, bn``; the trailing ReLU is applied in :meth:`forward`,
    which keeps the zoo's module indices (and checkpoint keys).

    Args:
        arch (str | dict): A zoo name (``'vgg8'``, ``'vgg11'``, ``'vgg13'``,
            ``'vgg16'``, ``'vgg19'``) or a dict ``{'widths': [[...], ...]}``
            giving the conv widths of the five blocks. Defaults to
            ``'vgg13'``.
        in_channels (int): Input image channels. Defaults to 3.
        init_cfg (dict | list[dict], optional): Initialisation config. The
            default reproduces the zoo's (Kaiming-normal fan-out convs with
            zero bias, BN weights 1 and biases 0).
    """

    arch_settings: Dict[str, Tuple[Tuple[int, ...], ...]] = {
        'vgg8': ((64, ), (128, ), (256, ), (512, ), (512, )),
        'vgg11': ((64, ), (128, ), (256, 256), (512, 512), (512, 512)),
        'vgg13': ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
        'vgg16': ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512),
                  (512, 512, 512)),
        'vgg19': ((64, 64), (128, 128), (256, 256, 256, 256),
                  (512, 512, 512, 512), (512, 512, 512, 512)),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'vgg13',
                 in_channels: int = 3,
                 init_cfg: Optional[Union[dict, List[dict]]] = _ZOO_INIT_CFG
                 ) -> None:
        super().__init__(init_cfg=init_cfg)
        widths = tuple(
            tuple(w) for w in zoo_arch(self.arch_settings, arch, 'widths'))
        if len(widths) != 5:
            raise ValueError(f'VGG needs 5 blocks of widths, got {widths}')
        self.widths = widths
        channels = in_channels
        for i, block_widths in enumerate(widths):
            self.add_module(f'block{i}',
                            self._make_block(channels, block_widths))
            channels = block_widths[-1]
        self.out_channels = channels

    @staticmethod
    def _make_block(in_channels: int, widths: Sequence[int]) -> nn.Sequential:
        layers: List[nn.Module] = []
        for width in widths:
            layers += [
                nn.Conv2d(in_channels, width, 3, padding=1),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            in_channels = width
        return nn.Sequential(*layers[:-1])

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """Return a 1-tuple with the last block's activated feature map."""
        apply_pool3 = x.shape[2] == 64  # as in the zoo: 64 px inputs only
        x = F.max_pool2d(F.relu(self.block0(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.block1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.block2(x)), 2, 2)
        x = F.relu(self.block3(x))
        if apply_pool3:
            x = F.max_pool2d(x, 2, 2)
        x = F.relu(self.block4(x))
        return (x, )
