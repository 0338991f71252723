"""The generated configs, metafiles and READMEs are what the generators in
.dev_scripts/ write (nobody edited a generated file by hand, and nobody
changed a recipe without regenerating), and the generators are not shipped.
"""
import glob
import os.path as osp
import subprocess
import sys

import pytest

from tests.helpers import REPO

DEV = osp.join(REPO, '.dev_scripts')


@pytest.mark.parametrize('script',
                         ['generate_configs.py', 'generate_metafiles.py'])
def test_generated_files_are_up_to_date(script):
    result = subprocess.run([sys.executable,
                             osp.join(DEV, script), '--check'],
                            cwd=REPO,
                            capture_output=True,
                            text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]


def test_generators_live_outside_the_shipped_folders():
    assert not glob.glob(
        osp.join(REPO, 'tools', '**', 'generate_*.py'), recursive=True)
    assert osp.isfile(osp.join(DEV, 'published_numbers.py'))
    # setup.py ships configs/, tools/ and model-index.yml; MANIFEST.in
    # includes nothing of .dev_scripts
    with open(osp.join(REPO, 'MANIFEST.in')) as f:
        rules = [line for line in f if not line.startswith('#')]
    assert rules and not any('.dev_scripts' in line for line in rules)
    with open(osp.join(REPO, 'setup.py')) as f:
        assert "for name in ('configs', 'tools', 'model-index.yml'):" in \
            f.read()
