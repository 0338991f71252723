"""The model index as mim and MMEngine read it: one entry per shipped config.

``mim search mmenergykd`` prints the ``Name`` of every entry;
``mim train mmenergykd <name>.py`` looks the file up by its basename anywhere
in the installed package (``mim.utils.recursively_find``), so basenames must be
unique and equal to the names. The installed layout (``mmenergykd/.mim/
{configs,tools,model-index.yml}`` next to the package's modules, what
``setup.py`` builds) is reproduced with links to this checkout, and mim's own
functions run on it.
"""
import glob
import importlib
import os
import os.path as osp
from collections import Counter

import pytest
import yaml
from mim.utils import recursively_find

from tests.helpers import CONFIGS, REPO

# the modules (``mim.commands`` re-exports functions of the same names)
mim_search = importlib.import_module('mim.commands.search')
mim_train = importlib.import_module('mim.commands.train')
SHIPPED = sorted(
    p for p in glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True)
    if '_base_' not in p.split(osp.sep))


def index_entries():
    with open(osp.join(REPO, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    entries = []
    for rel in index['Import']:
        with open(osp.join(REPO, rel)) as f:
            meta = yaml.safe_load(f)
        assert osp.isfile(
            osp.join(osp.dirname(osp.join(REPO, rel)), 'README.md')), rel
        entries += meta['Models']
    return entries


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """An installed-package tree: mmenergykd/ with .mim/ inside."""
    root = tmp_path_factory.mktemp('site') / 'mmenergykd'
    os.makedirs(root / '.mim')
    for name in os.listdir(osp.join(REPO, 'mmenergykd')):
        if name != '.mim':
            os.symlink(osp.join(REPO, 'mmenergykd', name), root / name)
    for name in ('configs', 'tools', 'model-index.yml'):
        os.symlink(osp.join(REPO, name), root / '.mim' / name)
    return str(root)


def test_every_shipped_config_has_one_entry_named_after_its_file():
    entries = index_entries()
    names = [e['Name'] for e in entries]
    assert len(names) == len(set(names))
    configs = sorted(osp.join(REPO, e['Config']) for e in entries)
    assert configs == SHIPPED
    for entry in entries:
        assert osp.isfile(osp.join(REPO, entry['Config'])), entry['Name']
        assert osp.basename(entry['Config']) == entry['Name'] + '.py'
    # the command users know stays where it was
    assert 'res34_res18_in1k' in names
    assert osp.join(CONFIGS, 'energykd', 'res34_res18_in1k.py') in SHIPPED


def test_basenames_unique_across_everything_mim_searches():
    # mim walks the whole package (configs, _base_ files, tools, modules)
    files = []
    for top in ('configs', 'tools', 'mmenergykd'):
        for folder, dirs, names in os.walk(osp.join(REPO, top)):
            dirs[:] = [d for d in dirs if d != '.mim']  # the copy of these
            files += [f for f in names if f.endswith('.py')]
    counts = Counter(files)
    for path in SHIPPED:
        assert counts[osp.basename(path)] == 1, osp.basename(path)


def test_mim_search_reads_every_id(installed, monkeypatch):
    monkeypatch.setattr(mim_search, 'get_installed_path', lambda _: installed)
    metadata = mim_search.load_metadata_from_local('mmenergykd')
    frame = mim_search.convert2df(metadata)
    assert sorted(frame.index) == sorted(
        osp.splitext(osp.basename(p))[0] for p in SHIPPED)
    published = frame.loc['kd_resnet32x4_resnet8x4_1xb64_240e_cifar100']
    assert published['cifar-100/top_1_accuracy'] == pytest.approx(73.33)


def test_mim_train_finds_the_config_of_every_id(installed, monkeypatch):
    calls = []

    class Subprocess:
        """Records the command mim would launch instead of training."""

        @staticmethod
        def check_output(cmd):
            return b''

        @staticmethod
        def check_call(cmd, env=None):
            calls.append(cmd)
            return 0

    monkeypatch.setattr(mim_train, 'get_installed_path', lambda _: installed)
    monkeypatch.setattr(mim_train, 'subprocess', Subprocess)
    monkeypatch.chdir(installed)  # no config of that name in the cwd
    for path in SHIPPED:
        name = osp.splitext(osp.basename(path))[0]
        ok, _ = mim_train.train(
            package='mmenergykd', config=name + '.py', gpus=0)
        assert ok, name
        script, config = calls[-1][1:3]
        assert config == osp.realpath(path), name
        assert script == osp.join(installed, '.mim', 'tools', 'train.py')
    # a name that is not a config is refused, not guessed
    with pytest.raises(ValueError, match='can not find'):
        mim_train.train(
            package='mmenergykd',
            config='energykd_res34_res18_in1k.py',
            gpus=0)


def test_mim_lookup_is_by_exact_file_name(installed):
    # what mim does for `mim train mmenergykd <id>.py`, for one id directly
    hits = recursively_find(installed, 'res34_res18_in1k.py', followlinks=True)
    assert [osp.realpath(h) for h in hits
            ] == [osp.join(CONFIGS, 'energykd', 'res34_res18_in1k.py')]


def test_student_and_teacher_blocks_hold_the_configs_models():
    """One entry per folder and dataset: the metafile's Student / Teacher
    configs are the models the distillation config builds."""
    from mmengine.config import Config

    from mmenergykd.models.utils import resolve_model_cfg

    def model_of(ref, role):
        if not ref.startswith('mmpretrain::'):
            ref = osp.join(REPO, ref)
        return resolve_model_cfg(ref, role).to_dict()

    seen = set()
    for entry in index_entries():
        if 'Teacher' not in entry:
            continue
        key = (osp.dirname(entry['Config']),
               entry['Metadata']['Training Data'])
        if key in seen:
            continue
        seen.add(key)
        model = Config.fromfile(osp.join(REPO, entry['Config'])).model
        for role in ('student', 'teacher'):
            assert model_of(entry[role.title()]['Config'], role) == \
                resolve_model_cfg(model[role], role).to_dict(), \
                (entry['Name'], role)
    # every method folder, on every dataset it has
    assert len(seen) >= 20
