# Copyright (c) mmenergykd contributors. All rights reserved.
"""Print the paper's method table from the metafiles (markdown).

``python .dev_scripts/print_paper_table.py``: one row per teacher -> student
pair, one column per method, each cell the published top-1 that the pair's
config of that method carries in its ``metafile.yml`` (``Results``), with the
config it belongs to. The table of docs/en/user_guides/reproduce_paper.md
("The published numbers") is this output.
"""
import os.path as osp
import re

import yaml

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
METHODS = ('kd', 'energykd', 'dkd', 'energydkd', 'mlkd', 'energymlkd')
HEADS = ('KD', 'Energy KD', 'DKD', 'Energy DKD', 'MLKD', 'Energy MLKD')
NAME = re.compile(r'^(?P<algo>[a-z-]+)_(?P<pair>.+)_\d+xb\d+_\d+e_'
                  r'(?P<data>[a-z0-9-]+)$')


def published_entries():
    """``(dataset, pair, method) -> top-1`` from every metafile."""
    with open(osp.join(ROOT, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    found = {}
    for rel in index['Import']:
        with open(osp.join(ROOT, rel)) as f:
            meta = yaml.safe_load(f)
        for model in meta['Models']:
            match = NAME.match(model['Name'])
            if not match or not model.get('Results'):
                continue
            key = (match['data'], match['pair'], match['algo'])
            if match['algo'] not in METHODS:
                continue
            top1 = model['Results'][0]['Metrics']['Top 1 Accuracy']
            assert found.get(key, top1) == top1, key
            found[key] = top1
    return found


def table(found, dataset):
    pairs = sorted({pair for data, pair, _ in found if data == dataset})
    lines = [
        '| teacher -> student | ' + ' | '.join(HEADS) + ' |',
        '|---|' + '---|' * len(HEADS)
    ]
    for pair in pairs:
        cells = []
        for method in METHODS:
            value = found.get((dataset, pair, method))
            cells.append('-' if value is None else f'{value:.2f}')
        lines.append(f'| {pair} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main():
    found = published_entries()
    print('CIFAR-100 (top-1 %):\n')
    print(table(found, 'cifar100'))
    print('\nImageNet-1k (top-1 %):\n')
    print(table(found, 'in1k'))


if __name__ == '__main__':
    main()
