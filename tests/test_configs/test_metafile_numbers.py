"""The metafiles' expected top-1 against the published table, written out.

The table below is the Energy KD first author's results table (GitHub
``Seonghak35/Seonghak35.github.io``, ``kd-leaderboard/results.json``) as the
project's anchors quote it; its KD / DKD / MLKD columns are the CRD / DKD /
MLKD papers' numbers. Typed here independently of tools/dev/.
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
    # the release's pair: nothing published
    'resnet56_resnet20': (None, ) * 6,
}
METHODS = ('kd', 'energykd', 'dkd', 'energydkd', 'mlkd', 'energymlkd')
# ImageNet ResNet-34 -> ResNet-18, same table
IMAGENET = {'kd': 70.66, 'dkd': 71.70, 'mlkd': 71.90, 'energydkd': 72.21}
# MLKD's recipe: 480 epochs for these students
MLKD_480 = ('shufflenetv1', 'shufflenetv2', 'mobilenetv2')
NAME = re.compile(r'^(?P<algo>[a-z-]+)_(?P<pair>.+)_(?P<gpus>\d+)xb\d+_'
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
        if entry['Name'] == 'res34_res18_in1k' or not match:
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
