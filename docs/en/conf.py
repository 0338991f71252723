# Copyright (c) mmenergykd contributors. All rights reserved.
"""Sphinx configuration of the mmenergykd documentation (MyST markdown).

Build (as CI does, warnings as errors)::

    pip install -r requirements/docs.txt
    sphinx-build -W -b html docs/en docs/en/_build/html

The pages are plain markdown that GitHub renders too. Links from a page to
files outside ``docs/en`` (configs, ``docs/digits`` results, the README of a
config folder) resolve on GitHub as written; for the site they are turned into
download links (a folder into its README), so that ``-W`` holds and every link
of the site points at a file that exists.
"""
import os
import os.path as osp
import re

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.abspath(osp.join(HERE, '..', '..'))

project = 'mmenergykd'
copyright = 'mmenergykd contributors'
author = 'mmenergykd contributors'


def _version() -> str:
    """Reads ``__version__`` from ``mmenergykd/version.py``.

    Returns:
        str: The package version.
    """
    scope: dict = {}
    with open(osp.join(ROOT, 'mmenergykd', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


version = release = _version()

extensions = ['myst_parser']
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
master_doc = 'index'
exclude_patterns = ['_build', 'Thumbs.db', '.DS_Store']
# Anchors for headings down to level 4, with GitHub's slugs, so that
# ``page.md#a-heading`` works on GitHub and on the site alike.
myst_heading_anchors = 4
myst_enable_extensions = ['colon_fence']
html_theme = 'alabaster'
html_title = f'mmenergykd {version}'
language = 'en'

#: [text](target) and ![alt](target); the target has no spaces.
_LINK = re.compile(r'(!?\[[^\]]*\]\()([^)\s]+)(\))')
_FENCE = re.compile(r'^(\s*)(```|~~~)')


def _site_target(docname: str, target: str, srcdir: str) -> str:
    """Rewrites a link that leaves ``docs/en`` into a download link.

    Args:
        docname (str): The page's document name (relative, no suffix).
        target (str): The link target as written.
        srcdir (str): Sphinx's source folder (``docs/en``).

    Returns:
        str: The target to give MyST.
    """
    if re.match(r'^[a-z][a-z0-9+.-]*:', target) or target.startswith('#'):
        return target
    path = target.split('#', 1)[0]
    page_dir = osp.dirname(osp.join(srcdir, docname))
    full = osp.normpath(osp.join(page_dir, path))
    if full == srcdir or full.startswith(srcdir + os.sep):
        return target
    if osp.isdir(full) and osp.isfile(osp.join(full, 'README.md')):
        path = osp.join(path, 'README.md')
    return f'path:{path}'


def _rewrite_outside_links(app, docname: str, source: list) -> None:
    """``source-read`` handler: outside links become download links.

    Images are left alone (Sphinx copies them from anywhere); fenced code is
    left alone.

    Args:
        app: The Sphinx application.
        docname (str): The document being read.
        source (list): One string, the page's text (edited in place).
    """
    if not str(app.env.doc2path(docname)).endswith('.md'):
        return
    lines, fence = [], None
    for line in source[0].split('\n'):
        opened = _FENCE.match(line)
        if opened and fence is None:
            fence = opened.group(2)
        elif opened and opened.group(2) == fence:
            fence = None
        elif fence is None:
            line = _LINK.sub(
                lambda m: m.group(0)
                if m.group(1).startswith('!') else m.group(1) + _site_target(
                    docname, m.group(2), str(app.srcdir)) + m.group(3), line)
        lines.append(line)
    source[0] = '\n'.join(lines)


def setup(app) -> dict:
    """Registers the link rewriting.

    Args:
        app: The Sphinx application.

    Returns:
        dict: Extension metadata.
    """
    app.connect('source-read', _rewrite_outside_links)
    return dict(parallel_read_safe=True)
