# Copyright (c) mmenergykd contributors. All rights reserved.
"""The published top-1 numbers, typed once, for ``generate_metafiles.py``.

The metafiles the generator writes from this table are the one source of
published numbers at run time: ``mim search``, the reproduction kit
(``tools/reproduce``) and ``print_paper_table.py`` read the metafiles, never
this file (it is not shipped).

Sources: the Energy KD first author's results table (GitHub
``Seonghak35/Seonghak35.github.io``, ``kd-leaderboard/results.json``, as
quoted in the project's ``shared/docs/anchors.md``). Its baseline columns are
the standard published numbers: KD from the CRD paper (Tian et al., ICLR
2020), DKD from the DKD paper (Zhao et al., CVPR 2022), MLKD from the MLKD
paper (Jin et al., CVPR 2023); its Energy KD / Energy DKD / Energy MLKD
columns are the author's own. The ResNet56 -> ResNet20 row is not in that
table: its KD / DKD numbers and its teacher / student are mdistiller's README
(the CRD and DKD papers' numbers). Best test accuracy as those papers report
it; seeds and best-vs-last are not stated. ``None``: no usable number.
"""

#: Column -> where its numbers come from.
SOURCES = {
    'kd':
    'KD: CRD paper (Tian et al., ICLR 2020), as listed in the Energy KD '
    "author's results table",
    'dkd':
    'DKD: DKD paper (Zhao et al., CVPR 2022), as listed in the Energy '
    "KD author's results table",
    'mlkd':
    'MLKD: MLKD paper (Jin et al., CVPR 2023), as listed in the '
    "Energy KD author's results table",
    'energykd':
    "Energy KD: the Energy KD first author's results table "
    '(Seonghak35.github.io kd-leaderboard/results.json)',
    'energydkd':
    "Energy DKD: the Energy KD first author's results table "
    '(Seonghak35.github.io kd-leaderboard/results.json)',
    'energymlkd':
    "Energy MLKD: the Energy KD first author's results table "
    '(Seonghak35.github.io kd-leaderboard/results.json)',
}
#: Rows from another source than the author's table: pair -> source.
ROW_SOURCES = {
    ('resnet56', 'resnet20'):
    'mdistiller README (megvii-research/mdistiller): the CRD / DKD papers\' '
    'numbers for this pair, which the Energy KD table does not list',
}
COLUMNS = ('teacher', 'student', 'kd', 'energykd', 'dkd', 'energydkd', 'mlkd',
           'energymlkd')

#: (teacher, student) config names -> the table's row (CIFAR-100 top-1 %).
CIFAR100 = {
    ('resnet32x4', 'resnet8x4'):
    (79.42, 72.50, 73.33, 74.60, 76.32, 76.78, 77.08, 77.31),
    ('wrn_40_2', 'wrn_16_2'):
    (75.61, 73.26, 74.92, 75.45, 76.24, 76.66, 76.63, 77.19),
    ('wrn_40_2', 'wrn_40_1'):
    (75.61, 71.98, 73.54, 74.28, 74.81, 74.97, 75.35, 75.70),
    # the table prints Energy DKD as "74.11 (?)", the DKD number
    ('resnet110', 'resnet32'):
    (74.31, 71.14, 73.08, 73.68, 74.11, 74.11, 74.11, 74.60),
    ('vgg13', 'vgg8'): (74.64, 70.36, 72.98, 73.73, 74.68, 74.90, 75.18,
                        75.56),
    ('wrn_40_2', 'shufflenetv1'): (75.61, 70.50, 74.83, 75.90, 76.70, 77.06,
                                   77.44, 77.76),
    ('resnet32x4', 'shufflenetv1'): (79.42, 70.50, 74.07, 75.20, 76.45, 76.89,
                                     77.18, 77.82),
    ('resnet32x4', 'shufflenetv2'): (79.42, 71.82, 74.45, 75.87, 77.07, 77.55,
                                     78.44, 78.64),
    # Energy DKD: the table's 77.19 is above the teacher (a typo): unknown
    ('vgg13', 'mobilenetv2'): (74.64, 64.60, 67.37, 68.65, 69.71, None, 70.57,
                               70.89),
    ('resnet50', 'mobilenetv2'): (79.34, 64.60, 67.35, 68.97, 70.35, 70.77,
                                  71.04, 71.32),
    # mdistiller's README (ROW_SOURCES); nothing else is published for it
    ('resnet56', 'resnet20'): (72.34, 69.06, 70.66, None, 71.97, None, None,
                               None),
}

#: Notes printed with a number that needs one.
CAVEATS = {
    (('resnet110', 'resnet32'), 'energydkd'):
    'the table prints "74.11 (?)": the DKD number, perhaps copied',
    (('vgg13', 'mobilenetv2'), 'energydkd'):
    "unknown: the table's 77.19 is above the teacher (74.64), a typo",
    (('resnet56', 'resnet20'), 'energykd'):
    'none published for this pair (the release ships its recipe only)',
}

#: ImageNet ResNet-34 -> ResNet-18 row of the same table (torchvision
#: teacher 73.31, student 69.75): method -> top-1.
IMAGENET_R34_R18 = {
    'kd': 70.66,
    'dkd': 71.70,
    'mlkd': 71.90,
    'energydkd': 72.21
}
#: Published ImageNet numbers of other pairs: (method, pair) -> (top-1,
#: source). DeiT: Touvron et al., ICML 2021, Table 5 (hard distillation,
#: distillation token, 300 epochs, RegNetY-16GF teacher at 82.9).
_DEIT = ('DeiT paper (Touvron et al., ICML 2021), Table 5: {model} with a '
         'distillation token and hard distillation, 300 epochs, teacher '
         'RegNetY-16GF (82.9); MMPretrain\'s converted weights of it reach '
         '{converted}. Our teacher is ConvNeXt-S (83.16), which MMPretrain '
         'publishes; the DeiT RegNetY-16GF is not in its zoo')
IMAGENET_PUBLISHED = {
    ('deit', 'convnext-small_deit-tiny'):
    (74.5, _DEIT.format(model='DeiT-Ti', converted=74.51)),
    ('deit', 'convnext-small_deit-small'):
    (81.2, _DEIT.format(model='DeiT-S', converted=81.17)),
}
#: Why an ImageNet (pair, method) has no number, where more than "none".
IMAGENET_NOTES = {
    'resnet50_mobilenetv2':
    'no published ImageNet number for this pair: the ResNet-50 row of the '
    'Energy KD table uses MobileNet V1, not MobileNetV2',
    'convnext-small_deit-tiny':
    'ours (Energy KD on the distillation token): none published; compare '
    'with configs/deit/deit_convnext-small_deit-tiny_4xb256_300e_in1k.py '
    '(DeiT\'s hard distillation, 74.5 published)',
    'convnext-small_deit-small':
    'ours (Energy KD on the distillation token): none published; compare '
    'with configs/deit/deit_convnext-small_deit-small_4xb256_300e_in1k.py '
    '(DeiT\'s hard distillation, 81.2 published)',
    'efficientnet-b3-advprop_resnet18':
    'no published number for this pair (a teacher with its own '
    'normalisation, [-1, 1], and input size, 300 px)',
}


def cifar100_number(teacher: str, student: str, column: str):
    """The published CIFAR-100 top-1 of a pair and column, or None.

    Args:
        teacher (str): Teacher config name, e.g. ``'resnet32x4'``.
        student (str): Student config name.
        column (str): A method, ``'teacher'`` or ``'student'``.

    Returns:
        float | None: The number, None where nothing is published.
    """
    row = CIFAR100.get((teacher, student))
    if row is None or column not in COLUMNS:
        return None
    return row[COLUMNS.index(column)]


def cifar100_source(teacher: str, student: str, method: str) -> str:
    """Where a CIFAR-100 number of a pair and method comes from."""
    return ROW_SOURCES.get((teacher, student), SOURCES.get(method, ''))
