# Copyright (c) mmenergykd contributors. All rights reserved.
"""Every id ``mim search mmenergykd`` prints resolves under ``mim train``.

Uses mim's own code: ``get_model_info`` (what ``mim search`` prints) and the
lookup of ``mim train PACKAGE CONFIG`` (``recursively_find`` of the config's
file name under the installed package, symbolic links followed, exactly one
match required).
"""
import os.path as osp

from mim.commands.search import get_model_info
from mim.utils import get_installed_path, recursively_find

from tests.helpers import REPO


def test_every_searched_id_resolves_to_its_config_under_mim_train():
    info = get_model_info('mmenergykd', local=True, to_dict=True)
    assert info, 'mim search mmenergykd lists nothing'
    root = get_installed_path('mmenergykd')
    for model_id, fields in info.items():
        config = fields['config']
        # OpenMMLab: the config's file name is the id
        assert osp.basename(config) == f'{model_id}.py', (model_id, config)
        found = recursively_find(root, f'{model_id}.py', followlinks=True)
        assert len(found) == 1, (model_id, found)
        assert osp.realpath(found[0]) == osp.realpath(
            osp.join(root, '.mim', config)), model_id
        with open(found[0]) as f, open(osp.join(REPO, config)) as g:
            assert f.read() == g.read(), model_id


def test_mim_finds_the_package_tools():
    root = get_installed_path('mmenergykd')
    for tool in ('train.py', 'test.py'):
        installed = osp.join(root, '.mim', 'tools', tool)
        with open(installed) as f, open(osp.join(REPO, 'tools', tool)) as g:
            assert f.read() == g.read(), tool
