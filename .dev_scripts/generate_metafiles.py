# Copyright (c) mmenergykd contributors. All rights reserved.
"""Write ``metafile.yml`` and ``README.md`` per config folder, and the index.

Run from anywhere after adding or renaming a config:
``python tools/dev/generate_metafiles.py``. Every config under ``configs/``
(``_base_`` folders aside) becomes one model-index entry whose ``Name`` is
its file name without ``.py`` (the id ``mim search mmenergykd`` prints and
``mim train mmenergykd <id>.py`` finds), with the published top-1 it should
reach (``published_numbers.py``) where there is one, and a note saying
which number it compares to otherwise.
"""
import glob
import os.path as osp
import re

import yaml
from published_numbers import (CAVEATS, IMAGENET_R34_R18, SOURCES,
                               cifar100_number)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs')
PAPERS = {
    'kd': ('Distilling the Knowledge in a Neural Network',
           'https://arxiv.org/abs/1503.02531'),
    'dkd':
    ('Decoupled Knowledge Distillation', 'https://arxiv.org/abs/2203.08679'),
    'mlkd': ('Multi-Level Logit Distillation',
             'https://openaccess.thecvf.com/content/CVPR2023/html/'
             'Jin_Multi-Level_Logit_Distillation_CVPR_2023_paper.html'),
    'energy':
    ('Maximizing Discrimination Capability of Knowledge '
     'Distillation with Energy Function', 'https://arxiv.org/abs/2311.14334'),
}
ALGOS = {
    'kd': 'KD (Hinton et al.)',
    'dkd': 'DKD (decoupled KD)',
    'mlkd': 'MLKD (multi-level logit distillation, two views)',
    'energykd': 'Energy KD, paper direction (low energy: higher T)',
    'energykd-release': 'Energy KD, release direction (low energy: lower T)',
    'energydkd': 'Energy DKD, paper direction',
    'energydkd-release': 'Energy DKD, release direction',
    'energymlkd': "Energy MLKD, paper direction (this project's reading)",
    'kd-heda': 'KD + HE-DA (CutMix on the high-energy samples)',
    'energykd-heda': 'Energy KD + HE-DA',
    'kd-randommix': 'KD + CutMix on a random subset (control of HE-DA)',
}
DATASETS = {
    'in1k': 'ImageNet-1k',
    'cifar100': 'CIFAR-100',
    'cifar100-lt': 'CIFAR-100-LT',
    'digits': 'sklearn digits'
}
NAME = re.compile(r'^(?:(?P<algo>[a-z-]+)_)?(?P<pair>.+?)_(?P<gpus>\d+)xb'
                  r'(?P<batch>\d+)_(?P<epochs>\d+)e_(?P<data>[a-z0-9-]+)$')


def parse(name):
    """Fields of an OpenMMLab config name (the one exception aside)."""
    if name == 'res34_res18_in1k':  # the command users know: kept
        return dict(
            algo='energykd',
            pair='resnet34_resnet18',
            gpus='8',
            batch='32',
            epochs='100',
            data='in1k')
    match = NAME.match(name)
    assert match, f'{name}: not <algo>_<teacher>_<student>_<N>xb<B>_<E>e_' \
        '<dataset>'
    return match.groupdict()


def split_pair(pair):
    """``'wrn_40_2_wrn_16_2'`` -> ``('wrn_40_2', 'wrn_16_2')``."""
    names = sorted((osp.splitext(osp.basename(p))[0] for p in glob.glob(
        osp.join(CONFIGS, '_base_', 'models', 'cifar100', '*.py'))),
                   key=len,
                   reverse=True)
    for teacher in names:
        rest = pair[len(teacher) + 1:]
        if pair.startswith(teacher + '_') and rest in names:
            return teacher, rest
    return None


def expected(fields):
    """``(top-1 or None, note)`` for one config."""
    algo, data, epochs = fields['algo'], fields['data'], int(fields['epochs'])
    if data == 'in1k':
        number = (
            IMAGENET_R34_R18.get(algo)
            if fields['pair'] == 'resnet34_resnet18' else None)
        if number is None:
            return None, ('no published ImageNet number for this method and '
                          'pair (the ResNet-50 row of the Energy KD table '
                          'uses MobileNet V1, not MobileNetV2)')
        return number, (
            SOURCES[algo] + ' (torchvision teacher 73.31; ours '
            'is the OpenMMLab ResNet-34, 73.62)')
    if data != 'cifar100':
        return None, f'no published {DATASETS[data]} numbers'
    pair = split_pair(fields['pair'])
    base = algo.replace('-release', '')
    number = cifar100_number(*pair, base) if pair else None
    note = CAVEATS.get((pair, base))
    if base not in SOURCES:
        return None, 'no published number (HE-DA: none published)'
    primary = epochs in (240, 480) and algo == base
    release_run = algo.endswith('-release') and epochs == 360
    if number is None:
        return None, f'no published number: {note}'
    if not (primary or release_run):
        which = ('the 240-epoch paper-direction config'
                 if base.startswith('energy') else 'the 240-epoch config')
        return None, (f'compare with {which}: the published {number:.2f} is '
                      'for that protocol')
    text = SOURCES[base]
    if release_run:
        text += ('; this is the release\'s own recipe (360 epochs, release '
                 'direction), which the table does not name')
    elif base.startswith('energy'):
        text += ('; the table does not say which temperature direction or '
                 'schedule produced it')
    if note:
        text += f'; {note}'
    return number, text


def model_entry(path, collection):
    name = osp.splitext(osp.basename(path))[0]
    fields = parse(name)
    number, note = expected(fields)
    dataset = DATASETS[fields['data']]
    entry = dict(
        Name=name,
        Metadata={
            'Training Data': dataset,
            'Epochs': int(fields['epochs']),
            'Batch Size': int(fields['gpus']) * int(fields['batch']),
            'Expected Result Source': note,
        },
        **{'In Collection': collection},
        Config=osp.relpath(path, ROOT))
    if number is not None:
        entry['Results'] = [
            dict(
                Task='Image Classification',
                Dataset=dataset,
                Metrics={'Top 1 Accuracy': number})
        ]
    return entry


def collection_of(folder):
    rel = osp.relpath(folder, CONFIGS)
    algo = osp.basename(rel)
    if algo == 'digits':
        return 'Digits benchmark', 'energy', (
            'The digits benchmark (sklearn digits, CPU): teacher, student '
            'alone and every method on one small pair.')
    family = {'cifar100': ' (CIFAR-100)', 'cifar100_lt': ' (CIFAR-100-LT)'}
    suffix = family.get(osp.dirname(rel), '')
    paper = next(k for k in ('mlkd', 'dkd', 'energy', 'kd') if k in algo)
    if algo.startswith('energy') or 'heda' in algo:
        paper = 'energy'
    return ALGOS[algo] + suffix, paper, ALGOS[algo] + '.'


def write_folder(folder, paths):
    collection, paper, summary = collection_of(folder)
    title, url = PAPERS[paper]
    models = [model_entry(p, collection) for p in paths]
    meta = dict(
        Collections=[
            dict(
                Name=collection,
                Metadata={'Training Techniques': ['Knowledge Distillation']},
                Paper=dict(Title=title, URL=url),
                README=osp.relpath(osp.join(folder, 'README.md'), ROOT))
        ],
        Models=models)
    with open(osp.join(folder, 'metafile.yml'), 'w') as f:
        f.write('# Generated by tools/dev/generate_metafiles.py.\n')
        yaml.safe_dump(meta, f, sort_keys=False, width=79)
    lines = [
        f'# {collection}', '', f'> [{title}]({url})', '', summary, '',
        'Generated by `tools/dev/generate_metafiles.py` from the configs and '
        'the published numbers of `tools/dev/published_numbers.py`. '
        'Train with `python tools/train.py <config>`, MMPretrain\'s own '
        '`tools/train.py`, or `mim train mmenergykd <config name>.py`.', '',
        '| config | dataset | epochs | published top-1 | source / note |',
        '|---|---|---|---|---|'
    ]
    for m in models:
        res = m.get('Results')
        number = res[0]['Metrics']['Top 1 Accuracy'] if res else '-'
        lines.append(f'| [{m["Name"]}](./{osp.basename(m["Config"])}) | '
                     f'{m["Metadata"]["Training Data"]} | '
                     f'{m["Metadata"]["Epochs"]} | {number} | '
                     f'{m["Metadata"]["Expected Result Source"]} |')
    with open(osp.join(folder, 'README.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return osp.relpath(osp.join(folder, 'metafile.yml'), ROOT)


def main():
    paths = sorted(
        p for p in glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True)
        if '_base_' not in p.split(osp.sep))
    folders = {}
    for p in paths:
        folders.setdefault(osp.dirname(p), []).append(p)
    imports = [write_folder(f, ps) for f, ps in sorted(folders.items())]
    with open(osp.join(ROOT, 'model-index.yml'), 'w') as f:
        f.write('# Generated by tools/dev/generate_metafiles.py.\n')
        yaml.safe_dump(dict(Import=imports), f, sort_keys=False)


if __name__ == '__main__':
    main()
