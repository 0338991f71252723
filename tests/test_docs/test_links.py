"""Every relative link of the README, the docs and the config READMEs
resolves: the file (or folder) exists, and a ``#anchor`` names a heading of
the page it points at."""
import os.path as osp
import re

from .markdown_pages import REPO, anchors, github_slug, links, markdown_pages


def _is_external(target: str) -> bool:
    """Whether a link leaves the repository (a URL or a mail address)."""
    return bool(re.match(r'^[a-z][a-z0-9+.-]*:', target))


def _broken(page: str, target: str) -> str:
    """Why a relative link of ``page`` does not resolve ('' when it does).

    Args:
        page (str): The page, relative to the repository.
        target (str): The link target as written.

    Returns:
        str: An empty string, or what is missing.
    """
    path, _, anchor = target.partition('#')
    full = osp.normpath(osp.join(REPO, osp.dirname(page), path)) \
        if path else osp.join(REPO, page)
    if not full.startswith(REPO + osp.sep):
        return 'points outside the repository'
    if not osp.exists(full):
        return f'{osp.relpath(full, REPO)} does not exist'
    if anchor and full.endswith('.md'):
        names = anchors(osp.relpath(full, REPO))
        if anchor not in names:
            return (f'no heading #{anchor} in {osp.relpath(full, REPO)} '
                    f'(anchors: {", ".join(sorted(names))})')
    return ''


def test_pages_are_found():
    pages = markdown_pages()
    assert pages[0] == 'README.md'
    for page in ('docs/en/get_started.md', 'docs/en/user_guides/train_test.md',
                 'docs/en/notes/reliability.md',
                 'docs/en/advanced_guides/architecture.md',
                 'configs/energykd/README.md'):
        assert page in pages


def test_every_relative_link_resolves():
    checked, broken = 0, []
    for page in markdown_pages():
        for line, target in links(page):
            if _is_external(target):
                continue
            checked += 1
            why = _broken(page, target)
            if why:
                broken.append(f'{page}:{line}: ({target}) {why}')
    assert checked > 100, checked
    assert not broken, '\n'.join(broken)


def test_readme_links_every_method_folder():
    """The model zoo table of the README links each method's folder."""
    targets = {t for _, t in links('README.md')}
    for folder in sorted(
            osp.basename(osp.dirname(p)) for p in markdown_pages()
            if p.startswith('configs/')):
        assert f'configs/{folder}/README.md' in targets, folder


def test_github_slug_matches_github():
    # Anchors as GitHub renders them for headings of these pages.
    assert github_slug('Digits-LT: the long-tailed training split '
                       '(`--long-tailed`)') == \
        'digits-lt-the-long-tailed-training-split---long-tailed'
    assert github_slug('Safety: what `resume` and `teacher_ckpt` may load, '
                       'and why') == \
        'safety-what-resume-and-teacher_ckpt-may-load-and-why'
    assert github_slug('On the digits first (CPU, minutes)') == \
        'on-the-digits-first-cpu-minutes'


def test_a_broken_link_is_found(tmp_path):
    """The checker itself: a missing file and a missing anchor are found."""
    assert _broken('README.md', 'docs/en/get_started.md') == ''
    assert _broken('README.md', 'docs/en/get_started.md#installation') == ''
    assert 'does not exist' in _broken('README.md', 'docs/en/nothing.md')
    assert 'no heading #nothing' in _broken('README.md',
                                            'docs/en/get_started.md#nothing')
    assert 'outside' in _broken('README.md', '../elsewhere.md')
