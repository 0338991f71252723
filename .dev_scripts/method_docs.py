# Copyright (c) mmenergykd contributors. All rights reserved.
"""Per config folder: collection name, paper, first README text, citation.

``generate_metafiles.py`` writes a folder's README from this text only when
the README does not exist yet; afterwards it rewrites only the results
section between the ``RESULTS_BEGIN`` / ``RESULTS_END`` markers, so the
hand-written text of a README stays as its authors left it.
"""
from collections import namedtuple

Folder = namedtuple('Folder',
                    ['collection', 'paper', 'url', 'techniques', 'intro'])

ENERGY_PAPER = ('Maximizing Discrimination Capability of Knowledge '
                'Distillation with Energy Function',
                'https://arxiv.org/abs/2311.14334')
CITATIONS = {
    'kd':
    '''@article{hinton2015distilling,
  title={Distilling the Knowledge in a Neural Network},
  author={Hinton, Geoffrey and Vinyals, Oriol and Dean, Jeff},
  journal={arXiv preprint arXiv:1503.02531},
  year={2015}
}''',
    'dkd':
    '''@inproceedings{zhao2022decoupled,
  title={Decoupled Knowledge Distillation},
  author={Zhao, Borui and Cui, Quan and Song, Renjie and Qiu, Yiyu and
          Liang, Jiajun},
  booktitle={CVPR},
  year={2022}
}''',
    'mlkd':
    '''@inproceedings{jin2023multi,
  title={Multi-Level Logit Distillation},
  author={Jin, Ying and Wang, Jiaqi and Lin, Dahua},
  booktitle={CVPR},
  year={2023}
}''',
    'energy':
    '''@article{kim2024maximizing,
  title={Maximizing Discrimination Capability of Knowledge Distillation
         with Energy Function},
  author={Kim, Seonghak and Ham, Gyeongdo and Lee, Suin and Jang, Donggon
          and Kim, Daeshik},
  journal={Knowledge-Based Systems},
  volume={296},
  pages={111911},
  year={2024}
}''',
    'deit':
    '''@inproceedings{touvron2021training,
  title={Training data-efficient image transformers \\& distillation
         through attention},
  author={Touvron, Hugo and Cord, Matthieu and Douze, Matthijs and Massa,
          Francisco and Sablayrolles, Alexandre and J{\\'e}gou, Herv{\\'e}},
  booktitle={ICML},
  year={2021}
}''',
    'resnet':
    '''@inproceedings{he2016deep,
  title={Deep Residual Learning for Image Recognition},
  author={He, Kaiming and Zhang, Xiangyu and Ren, Shaoqing and Sun, Jian},
  booktitle={CVPR},
  year={2016}
}''',
}
KD_TECHNIQUES = ['Knowledge Distillation']
TEACHERS = (
    'CIFAR-100 teachers: the CRD / mdistiller zoo (`cifar_teachers.tar` of '
    'the mdistiller release) converted with `python '
    'tools/convert_mdistiller_ckpt.py SRC checkpoints/cifar100/<teacher>.pth '
    '--model <teacher>`; ImageNet teachers are downloaded from MMPretrain\'s '
    'model zoo; the digits teacher is made by `python '
    'tools/benchmark_digits.py` (see `configs/cifarresnet/README.md`).')
LAYOUT = (
    'Every config lists a dataset, a schedule and this method\'s loss '
    'settings (`configs/_base_/distill/{base}.py`) and sets only what its '
    'pair changes: student, teacher, teacher checkpoint, learning rate and '
    'the per-pair values of the recipe.')

FOLDERS = {
    'kd':
    Folder(
        'KD', 'Distilling the Knowledge in a Neural Network',
        'https://arxiv.org/abs/1503.02531', KD_TECHNIQUES,
        'Vanilla knowledge distillation: the student matches the teacher\'s '
        'softened class probabilities (one temperature for every sample) '
        'beside the label loss. The baseline of every Energy KD table.'),
    'dkd':
    Folder(
        'DKD', 'Decoupled Knowledge Distillation',
        'https://arxiv.org/abs/2203.08679', KD_TECHNIQUES,
        'DKD splits the KD loss into a target-class term and a '
        'non-target-class term and weights them separately (alpha, beta), '
        'with a linear warm-up of the distillation term.'),
    'mlkd':
    Folder(
        'MLKD', 'Multi-Level Logit Distillation',
        'https://openaccess.thecvf.com/content/CVPR2023/html/'
        'Jin_Multi-Level_Logit_Distillation_CVPR_2023_paper.html',
        KD_TECHNIQUES,
        'MLKD aligns teacher and student at the instance, batch and class '
        'level over five temperatures, on a weak and a strong view of each '
        'image (two-view dataset bases `*_mlkd_*`); the loss is computed as '
        'the official MLKD code computes it. Its strong augmentation makes '
        'its numbers incomparable with plain KD / DKD.'),
    'energykd':
    Folder(
        'Energy KD', *ENERGY_PAPER, KD_TECHNIQUES,
        'Energy KD gives each sample its own KD temperature from the '
        'teacher\'s energy score E(x) = -T_E logsumexp(z / T_E): the '
        'lowest-energy (confident) and highest-energy (uncertain) shares of '
        'the training set, found by one teacher pass before training, get '
        'their own temperatures. The paper\'s text and the authors\' release '
        'disagree on the direction, so this folder holds both: '
        '`energykd_*` follow the paper (low energy: the HIGHER temperature, '
        '6 / 4 / 2 at base 4; `_base_/distill/energykd.py`) and '
        '`energykd-release_*` the release (2 / 4 / 6; '
        '`_base_/distill/energykd-release.py`). `res34_res18_in1k.py` is the '
        'ImageNet ResNet-34 -> ResNet-18 config (temperatures scaled to the '
        'ImageNet base T = 1: 1.5 / 1 / 0.5).'),
    'energydkd':
    Folder(
        'Energy DKD', *ENERGY_PAPER, KD_TECHNIQUES,
        'Energy DKD: DKD with the per-sample temperature of Energy KD inside '
        'both of its terms. `energydkd_*` follow the paper\'s direction '
        '(6 / 4 / 2), `energydkd-release_*` the release\'s (2 / 4 / 6).'),
    'energymlkd':
    Folder(
        'Energy MLKD', *ENERGY_PAPER, KD_TECHNIQUES,
        'Energy MLKD: MLKD with every temperature of a sample scaled by its '
        'energy group (x1.5 / x1 / x0.5 for low / mid / high energy, paper '
        'direction). The first author\'s table lists it without a formula: '
        'this is the project\'s reading, named as such.'),
    'kd-heda':
    Folder(
        'KD + HE-DA', *ENERGY_PAPER, KD_TECHNIQUES + ['CutMix'],
        'HE-DA (high-energy data augmentation): CutMix among the '
        'highest-energy samples of each batch and a second KD term on the '
        'mixed images only, on top of KD (the release\'s combination). '
        '`kd-randommix_*_digits.py` is its control on the digits benchmark: '
        'the same CutMix and extra compute on a random subset of the same '
        'size, to separate the energy-based choice from the extra images.'),
    'energykd-heda':
    Folder(
        'Energy KD + HE-DA', *ENERGY_PAPER, KD_TECHNIQUES + ['CutMix'],
        'Energy KD (paper direction) plus HE-DA; the extra term on the '
        'mixed images uses the run\'s energy-group temperatures. One '
        'calibration pass serves both.'),
    'deit':
    Folder(
        'DeiT', 'Training data-efficient image transformers & distillation '
        'through attention', 'https://arxiv.org/abs/2012.12877',
        KD_TECHNIQUES + ['Mixup', 'CutMix', 'RandAugment'],
        'DeiT distils a convnet into a vision transformer that has a second '
        'token, the distillation token, beside its class token: the class '
        'token learns from the labels, the distillation token from the '
        'teacher\'s decision on the same augmented image (hard '
        'distillation, `HardDistillLoss`), each with weight 1/2; the '
        'student predicts with the average of both heads. MMPretrain ships '
        'these students (`DistilledVisionTransformer` + `DeiTClsHead`) and '
        'converted weights but cannot train them; here they train with the '
        'DeiT recipe of MMPretrain\'s deit configs. The teacher is '
        'ConvNeXt-S, named by its MMPretrain model-index name (config and '
        'published weights); DeiT\'s own RegNetY-16GF is not in '
        'MMPretrain\'s zoo. Energy KD on the distillation token (ours) is in '
        '`configs/energykd/energykd_convnext-small_deit-*`.'),
    'cifarresnet':
    Folder(
        'CIFAR ResNet (digits baselines)',
        'Deep Residual Learning for Image Recognition',
        'https://arxiv.org/abs/1512.03385', ['SGD with Momentum'],
        'Plain MMPretrain classifiers of the digits benchmark (sklearn\'s '
        'handwritten digits, CPU): the teacher (CIFAR ResNet-20, 60 epochs) '
        'and the student trained alone (CIFAR ResNet-8 at 3/8 width, 30 '
        'epochs), the baseline of every digits distillation config. '
        '`python tools/benchmark_digits.py` trains the teacher and stores it '
        'where every digits distillation config looks for it: '
        '`~/.cache/mmenergykd/digits/teacher.pth`, or the file named by the '
        'environment variable `MMENERGYKD_DIGITS_TEACHER`. A `--quick` run '
        'keeps its shortened teacher in its own work dir, and the configs '
        'refuse a teacher marked as such.'),
}


def citation_of(folder: str) -> str:
    """The bibtex entry of a folder's paper."""
    key = folder if folder in ('kd', 'dkd', 'mlkd', 'deit') else (
        'resnet' if folder == 'cifarresnet' else 'energy')
    return CITATIONS[key]


def first_readme(folder: str) -> str:
    """A new folder README (before its results section)."""
    info = FOLDERS[folder]
    lines = [
        f'# {info.collection}', '', f'> [{info.paper}]({info.url})', '',
        '## Introduction', '', info.intro, ''
    ]
    if folder != 'cifarresnet':  # a method folder: its base has its name
        lines += [LAYOUT.format(base=folder), '', TEACHERS, '']
    lines += [
        'Train with `python tools/train.py <config>`, MMPretrain\'s own '
        '`tools/train.py`, or `mim train mmenergykd <config name>.py`.', ''
    ]
    return '\n'.join(lines)


def citation_section(folder: str) -> str:
    """The README's closing citation section."""
    return '\n'.join(
        ['## Citation', '', '```bibtex',
         citation_of(folder), '```', ''])
