"""The markdown pages of the project, their fenced blocks, links and anchors.

Shared by ``test_links.py`` and ``test_commands.py``. A fenced block may be
preceded (on the line before its fence, blank lines allowed) by one marker:

- ``<!-- not run in CI: REASON -->``: the commands need what CI does not
  have (ImageNet, a GPU, several machines, a long run); REASON says what;
- ``<!-- run in CI with: ARGS -->``: run, with ARGS appended to every
  ``python tools/...`` and ``bash tools/...`` command of the block (small
  settings);
- ``<!-- run by .ci/run: NAME -->``: the block is ``.ci/run``'s section
  ``# --- README: NAME (keep identical) ---``, line for line.

A shell block without a marker is run as written.
"""
import glob
import os.path as osp
import re
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Languages whose blocks are commands.
SHELL_LANGS = ('shell', 'bash', 'sh', 'console')
#: The order in which a reader meets the pages (later pages may use what
#: earlier ones made, e.g. the digits teacher).
FIRST_PAGES = [
    'README.md',
    'docs/en/get_started.md',
    'docs/en/user_guides/train_test.md',
    'docs/en/user_guides/config.md',
    'docs/en/user_guides/teacher_bank.md',
    'docs/en/user_guides/teachers_and_students.md',
    'docs/en/user_guides/reproduce_paper.md',
    'docs/en/user_guides/digits_benchmark.md',
]
MARKERS = {
    'skip': re.compile(r'^<!--\s*not run in CI:\s*(.*?)\s*-->$'),
    'with': re.compile(r'^<!--\s*run in CI with:\s*(.*?)\s*-->$'),
    'ci': re.compile(r'^<!--\s*run by \.ci/run:\s*(.*?)\s*-->$'),
}
_FENCE = re.compile(r'^(\s*)(`{3,}|~{3,})\s*([^`\s]*)')
_LINK = re.compile(r'(!?)\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?'
                   r'(?:\s+"[^"]*")?\s*\)')
_HEADING = re.compile(r'^(#{1,6})\s+(.*?)\s*#*\s*$')


@dataclass
class Block:
    """A fenced block of a page.

    Attributes:
        page (str): The page, relative to the repository.
        line (int): The line of its opening fence (1-based).
        lang (str): Its info string's first word ('' for none).
        text (str): Its content, dedented by the fence's indentation.
        marker (tuple, optional): ``(kind, value)`` of the marker before it.
    """
    page: str
    line: int
    lang: str
    text: str
    marker: Optional[Tuple[str, str]]

    @property
    def where(self) -> str:
        """``page:line``, for messages."""
        return f'{self.page}:{self.line}'


def markdown_pages() -> List[str]:
    """Every markdown page the project shows: README, docs and config
    READMEs, in reading order (the pages of :data:`FIRST_PAGES` first).

    Returns:
        list[str]: Paths relative to the repository.
    """
    found = {'README.md'}
    for pattern in ('docs/**/*.md', 'configs/**/README.md'):
        for path in glob.glob(osp.join(REPO, pattern), recursive=True):
            rel = osp.relpath(path, REPO)
            if '/_build/' not in rel:
                found.add(rel)
    first = [p for p in FIRST_PAGES if p in found]
    return first + sorted(found - set(first))


def read_page(page: str) -> List[str]:
    """The lines of a page.

    Args:
        page (str): Path relative to the repository.

    Returns:
        list[str]: Its lines, without line ends.
    """
    with open(osp.join(REPO, page), encoding='utf-8') as f:
        return f.read().split('\n')


def _marker_before(lines: List[str], index: int) -> Optional[tuple]:
    """The marker on the nearest non-blank line before ``lines[index]``."""
    for line in reversed(lines[:index]):
        if line.strip():
            for kind, pattern in MARKERS.items():
                found = pattern.match(line.strip())
                if found:
                    return kind, found.group(1)
            return None
    return None


def fenced_blocks(page: str) -> List[Block]:
    """The fenced code blocks of a page.

    Args:
        page (str): Path relative to the repository.

    Returns:
        list[Block]: In page order.

    Raises:
        AssertionError: A fence is never closed.
    """
    lines, blocks, index = read_page(page), [], 0
    while index < len(lines):
        opened = _FENCE.match(lines[index])
        if not opened:
            index += 1
            continue
        indent, fence, lang = opened.groups()
        end = index + 1
        while end < len(lines) and not re.match(
                rf'^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$',
                lines[end]):
            end += 1
        assert end < len(lines), f'{page}:{index + 1}: fence never closed'
        body = [
            line[len(indent):] if line.startswith(indent) else line.lstrip()
            for line in lines[index + 1:end]
        ]
        blocks.append(
            Block(page, index + 1, lang.lower(), '\n'.join(body),
                  _marker_before(lines, index)))
        index = end + 1
    return blocks


def prose_lines(page: str) -> Iterator[Tuple[int, str]]:
    """The lines of a page outside fenced blocks, with inline code removed.

    Args:
        page (str): Path relative to the repository.

    Yields:
        tuple[int, str]: ``(line number, text)``.
    """
    inside = set()
    for block in fenced_blocks(page):
        inside.update(
            range(block.line, block.line + block.text.count('\n') + 2))
    for number, line in enumerate(read_page(page), 1):
        if number not in inside:
            yield number, re.sub(r'`[^`]*`', '', line)


def links(page: str) -> Iterator[Tuple[int, str]]:
    """The markdown links and images of a page outside code.

    Args:
        page (str): Path relative to the repository.

    Yields:
        tuple[int, str]: ``(line number, target)``.
    """
    for number, line in prose_lines(page):
        for found in _LINK.finditer(line):
            yield number, found.group(2)


def github_slug(heading: str) -> str:
    """The anchor GitHub (and MyST's ``heading_anchors``) gives a heading.

    Args:
        heading (str): The heading's markdown text.

    Returns:
        str: Lower case, markup and punctuation other than ``-`` and ``_``
        removed, spaces turned into ``-``.
    """
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', heading)
    text = re.sub(r'<[^>]+>', '', text).strip().lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(page: str) -> Dict[str, int]:
    """The heading anchors of a page, numbered as GitHub numbers repeats.

    Args:
        page (str): Path relative to the repository.

    Returns:
        dict[str, int]: Anchor -> line of its heading.
    """
    found: Dict[str, int] = {}
    for number, line in _heading_lines(page):
        slug = github_slug(line)
        unique, count = slug, 0
        while unique in found:
            count += 1
            unique = f'{slug}-{count}'
        found[unique] = number
    return found


def _heading_lines(page: str) -> Iterator[Tuple[int, str]]:
    """``(line, heading text)`` of the ATX headings outside code blocks."""
    lines = read_page(page)
    inside = set()
    for block in fenced_blocks(page):
        inside.update(
            range(block.line, block.line + block.text.count('\n') + 2))
    for number, line in enumerate(lines, 1):
        heading = _HEADING.match(line)
        if heading and number not in inside:
            yield number, heading.group(2)
