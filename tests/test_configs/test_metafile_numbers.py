"""The metafiles' expected top-1 against the published table, written out.

The table below is the Energy KD first author's results table (GitHub
``Seonghak35/Seonghak35.github.io``, ``kd-leaderboard/results.json``) as the
project's anchors quote it; its KD / DKD / MLKD columns are the CRD / DKD /
MLKD papers' numbers; the ResNet56 -> ResNet20 row (not in that table) is
mdistiller's README. Typed here independently of .dev_scripts/.
"""
import os.path as osp
import re

import pytest
import yaml

from tests.helpers import REPO

# teacher -> student: KD, Energy KD, DKD, Energy DKD, MLKD, Energy MLKD
CIFAR100 = {
    'resnet32x4_resnet8x4': (73.33, 74.60, 76.32, 76.78, 77.08, 77.31),
    'wrn_40_2_wrn_16_2': (74.92, 75.45, 76.24, 76.66, 76.63, 77.19),
    'wrn_40_2_wrn_40_1': (73.54, 74.28, 74.81, 74.97, 75.35, 75.70),
    'resnet110_resnet32': (73.08, 73.68, 74.11, 74.11, 74.11, 74.60),
    'vgg13_vgg8': (72.98, 73.73, 74.68, 74.90, 75.18, 75.56),
    'wrn_40_2_shufflenetv1': (74.83, 75.90, 76.70, 77.06, 77.44, 77.76),
    'resnet32x4_shufflenetv1': (74.07, 75.20, 76.45, 76.89, 77.18, 77.82),
    'resnet32x4_shufflenetv2': (74.45, 75.87, 77.07, 77.55, 78.44, 78.64),
    # Energy DKD unknown: the table's 77.19 is above the teacher (a typo)
    'vgg13_mobilenetv2': (67.37, 68.65, 69.71, None, 70.57, 70.89),
    'resnet50_mobilenetv2': (67.35, 68.97, 70.35, 70.77, 71.04, 71.32),
    # the release's pair: mdistiller's README (the CRD / DKD papers'
    # numbers); nothing else published
    'resnet56_resnet20': (70.66, None, 71.97, None, None, None),
}
METHODS = ('kd', 'energykd', 'dkd', 'energydkd', 'mlkd', 'energymlkd')
# ImageNet ResNet-34 -> ResNet-18, same table
IMAGENET = {'kd': 70.66, 'dkd': 71.70, 'mlkd': 71.90, 'energydkd': 72.21}
# DeiT's hard distillation (DeiT paper, Table 5: DeiT-Ti / DeiT-S with a
# distillation token, 300 epochs)
DEIT = {'convnext-small_deit-tiny': 74.5, 'convnext-small_deit-small': 81.2}
# MLKD's recipe: 480 epochs for these students
MLKD_480 = ('shufflenetv1', 'shufflenetv2', 'mobilenetv2')
NAME = re.compile(r'^(?:(?P<algo>[a-z-]+)_)?(?P<pair>.+)_(?P<gpus>\d+)xb\d+_'
                  r'(?P<epochs>\d+)e_(?P<data>[a-z0-9-]+)$')


def entries():
    with open(osp.join(REPO, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    for rel in index['Import']:
        with open(osp.join(REPO, rel)) as f:
            yield from yaml.safe_load(f)['Models']


def top1(entry):
    results = entry.get('Results')
    if not results:
        return None
    assert results[0]['Task'] == 'Image Classification'
    return results[0]['Metrics']['Top 1 Accuracy']


def expected_number(match):
    algo, pair, data = match['algo'], match['pair'], match['data']
    epochs = int(match['epochs'])
    if data == 'in1k' and algo == 'deit':
        return DEIT[pair]
    if data == 'in1k':
        return IMAGENET.get(algo) if pair == 'resnet34_resnet18' else None
    if data != 'cifar100':
        return None  # CIFAR-100-LT, digits: nothing published
    method = algo.replace('-release', '')
    if method not in METHODS:
        return None  # HE-DA: nothing published
    number = CIFAR100[pair][METHODS.index(method)]
    if algo.endswith('-release'):
        # the release's own recipe: release direction, 360 epochs
        return number if epochs == 360 else None
    protocol = 240
    if method.endswith('mlkd') and pair.endswith(MLKD_480):
        protocol = 480
    return number if epochs == protocol else None


def test_every_entry_carries_the_published_number():
    seen = {}
    for entry in entries():
        match = NAME.match(entry['Name'])
        if entry['Name'] == 'res34_res18_in1k' or not match['algo']:
            # Energy KD on ImageNet; the digits teacher / student alone
            assert entry['Name'] == 'res34_res18_in1k' or entry[
                'Name'].endswith('_digits'), entry['Name']
            assert top1(entry) is None
            continue
        assert match, entry['Name']
        want = expected_number(match)
        assert top1(entry) == (pytest.approx(want) if want else None), \
            entry['Name']
        note = entry['Metadata']['Expected Result Source']
        assert note, entry['Name']
        if want:
            assert entry['Results'][0]['Dataset'] == (
                'CIFAR-100' if match['data'] == 'cifar100' else 'ImageNet-1k')
            seen[(match['pair'], match['algo'])] = want
    # every published CIFAR-100 cell has a config that carries it
    for pair, row in CIFAR100.items():
        for method, number in zip(METHODS, row):
            if number is not None:
                assert seen[(pair, method)] == pytest.approx(number)
    for method, number in IMAGENET.items():
        assert seen[('resnet34_resnet18', method)] == pytest.approx(number)


def test_sources_are_named():
    notes = {
        e['Name']: e['Metadata']['Expected Result Source']
        for e in entries()
    }
    assert 'CRD paper' in notes['kd_vgg13_vgg8_1xb64_240e_cifar100']
    assert 'DKD paper' in notes['dkd_vgg13_vgg8_1xb64_240e_cifar100']
    assert 'MLKD paper' in notes['mlkd_vgg13_vgg8_1xb64_240e_cifar100']
    assert 'results table' in notes[
        'energymlkd_vgg13_vgg8_1xb64_240e_cifar100']
    assert '240-epoch' in notes['kd_vgg13_vgg8_1xb64_360e_cifar100']
    assert 'release' in notes[
        'energykd-release_vgg13_vgg8_1xb64_360e_cifar100']
    assert 'typo' in notes['energydkd_vgg13_mobilenetv2_1xb64_240e_cifar100']
    assert 'mdistiller' in notes['kd_resnet56_resnet20_1xb64_240e_cifar100']
    # the MobileNet V1 remark belongs to the ResNet-50 -> MobileNetV2 entry
    # only, not to every ImageNet entry without a number
    v1 = sorted(n for n, note in notes.items() if 'MobileNet V1' in note)
    assert v1 == ['energykd_resnet50_mobilenetv2_8xb32_100e_in1k']
    assert 'MobileNet' not in notes['res34_res18_in1k']


def test_student_and_teacher_blocks():
    """mmrazor's layout: every distillation entry names its student and
    teacher (config; weights and metrics where known)."""
    models = {e['Name']: e for e in entries()}
    for name, entry in models.items():
        if name.startswith(('cifarresnet', 'vit-digits')):  # the digits
            # baselines
            assert 'Student' not in entry and 'Teacher' not in entry
            continue
        assert entry['Student']['Config'] and entry['Teacher']['Config'], name
    r34 = models['res34_res18_in1k']
    assert r34['Teacher']['Config'] == \
        'mmpretrain::resnet/resnet34_8xb32_in1k.py'
    assert r34['Teacher']['Metrics']['Top 1 Accuracy'] == 73.62
    assert r34['Teacher']['Weights'].endswith(
        'resnet34_8xb32_in1k_20210831-f257d4e6.pth')
    assert r34['Student']['Metrics']['Top 1 Accuracy'] == 69.90
    kd = models['kd_resnet32x4_resnet8x4_1xb64_240e_cifar100']
    assert kd['Teacher']['Config'] == \
        'configs/_base_/models/cifar100/resnet32x4.py'
    assert kd['Teacher']['Metrics']['Top 1 Accuracy'] == 79.42
    assert kd['Student']['Metrics']['Top 1 Accuracy'] == 72.50
    # CIFAR-100-LT: the same teacher; the student alone is another model
    lt = models['kd_resnet32x4_resnet8x4_1xb64_240e_cifar100-lt']
    assert lt['Teacher']['Metrics'] == kd['Teacher']['Metrics']
    assert 'Metrics' not in lt['Student']
    digits = models['kd_cifarresnet20_cifarresnet8_1xb64_30e_digits']
    assert digits['Teacher']['Config'] == \
        'configs/cifarresnet/cifarresnet20_1xb64_60e_digits.py'
    for name, entry in models.items():
        for role in ('Student', 'Teacher'):
            config = entry.get(role, {}).get('Config', 'mmpretrain::')
            assert config.startswith('mmpretrain::') or osp.isfile(
                osp.join(REPO, config)), (name, role)
