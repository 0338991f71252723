# The strong view's RandAugment of the official MLKD code (a FixMatch-style
# RandAugment, method.md section 6), written with MMPretrain's RandAugment:
# two operations drawn with replacement from 14, each with its magnitude drawn
# uniformly from its range (`magnitude_std='inf'` draws the level uniformly in
# [0, magnitude_level] = [0, total_level], mapped linearly onto
# `magnitude_range`); every operation fires (prob 1). The official "magnitude
# 10" is not used by its code (its own comment: "deprecated"); the ranges are:
#   AutoContrast, Equalize, Identity;
#   Brightness / Color / Contrast / Sharpness: enhance factor U(0.05, 0.95)
#     (MMPretrain's factor is 1 + magnitude, so magnitude U(-0.95, -0.05));
#   Posterize: 4 to 7 bits (official int(U(4, 8)); MMPretrain rounds up);
#   Rotate: U(-30, 30) degrees; ShearX / ShearY: U(-0.3, 0.3);
#   TranslateX / TranslateY: U(-0.3, 0.3) of the side;
#   Solarize: threshold U(0, 256).
# Geometric operations fill with black and sample the nearest pixel, as PIL's
# defaults in the official code do. MMPretrain has no identity transform: an
# AutoContrast that never fires (prob 0) is one.
# The Cutout that the official RandAugment always appends is not part of this
# dict: it depends on the image size and colour order, so each dataset base
# adds it (cifar100_mlkd_bs64.py, imagenet_mlkd_bs32.py).
# Small known differences: MMPretrain rotates about ((w - 1) / 2, (h - 1) / 2)
# instead of PIL's (w / 2, h / 2), and its ColorTransform computes grey from
# BGR weights (CIFAR images are RGB here, so red and blue weights swap).
_enhance = (-0.95, -0.05)
mlkd_rand_augment = dict(
    type='RandAugment',
    num_policies=2,
    magnitude_level=10,
    magnitude_std='inf',
    total_level=10,
    hparams=dict(pad_val=0, prob=1.0, interpolation='nearest'),
    policies=[
        dict(type='AutoContrast'),
        dict(
            type='Brightness',
            magnitude_range=_enhance,
            random_negative_prob=0.0),
        dict(
            type='ColorTransform',
            magnitude_range=_enhance,
            random_negative_prob=0.0),
        dict(
            type='Contrast',
            magnitude_range=_enhance,
            random_negative_prob=0.0),
        dict(type='Equalize'),
        dict(type='AutoContrast', prob=0.0),  # Identity
        dict(type='Posterize', magnitude_range=(3, 7)),
        dict(type='Rotate', magnitude_range=(0, 30)),
        dict(
            type='Sharpness',
            magnitude_range=_enhance,
            random_negative_prob=0.0),
        dict(type='Shear', magnitude_range=(0, 0.3), direction='horizontal'),
        dict(type='Shear', magnitude_range=(0, 0.3), direction='vertical'),
        dict(type='Solarize', magnitude_range=(0, 256)),
        dict(
            type='Translate', magnitude_range=(0, 0.3),
            direction='horizontal'),
        dict(type='Translate', magnitude_range=(0, 0.3), direction='vertical'),
    ])
