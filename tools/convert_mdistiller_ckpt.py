# Copyright (c) mmenergykd contributors. All rights reserved.
"""Convert a CRD / mdistiller CIFAR-100 zoo checkpoint for MMPretrain.

Example::

    python tools/convert_mdistiller_ckpt.py \\
        download_ckpts/cifar_teachers/resnet32x4_vanilla/ckpt_epoch_240.pth \\
        checkpoints/resnet32x4_cifar100_mdistiller.pth --model resnet32x4

The result (``{'meta': ..., 'state_dict': ...}``) loads with ``strict=True``
into the model of ``configs/_base_/models/cifar100/<model>.py``, e.g. as a
teacher checkpoint or with ``load_from``. The conversion itself lives in
``tools/model_converters/mdistiller.py``.
"""
import argparse
import sys

from model_converters.mdistiller import (MDISTILLER_MODEL_NAMES,
                                         ConversionError,
                                         convert_mdistiller_checkpoint)

from mmenergykd.utils.checkpoint import (CheckpointSafetyError,
                                         CorruptCheckpointError)


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Convert a CRD / mdistiller CIFAR-100 zoo checkpoint '
        '({"model": state_dict}) to an MMPretrain checkpoint.')
    parser.add_argument('src', help='zoo checkpoint, e.g. ckpt_epoch_240.pth')
    parser.add_argument('dst', help='output checkpoint path')
    parser.add_argument(
        '--model',
        required=True,
        help='zoo architecture name: ' + ', '.join(MDISTILLER_MODEL_NAMES) +
        ' (zoo aliases such as mobile_half, ShuffleV2, ResNet50, vgg13_bn '
        'are accepted)')
    parser.add_argument(
        '--config',
        default=None,
        help='model config to convert to (default: '
        'configs/_base_/models/cifar100/<model>.py)')
    parser.add_argument(
        '--prefix',
        default='',
        help='keep only the keys with this prefix and strip it, e.g. '
        '"student." for a full mdistiller distiller checkpoint')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the conversion; return the exit status."""
    args = parse_args(argv)
    try:
        out = convert_mdistiller_checkpoint(
            args.src,
            args.dst,
            args.model,
            config=args.config,
            prefix=args.prefix)
    except (ConversionError, FileNotFoundError, CheckpointSafetyError,
            CorruptCheckpointError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'Converted {len(out["state_dict"])} tensors of '
          f'{out["meta"]["model"]} from {args.src} to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
