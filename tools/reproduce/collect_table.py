# Copyright (c) mmenergykd contributors. All rights reserved.
"""Collect MMEngine work dirs into the paper-comparison table.

Usage::

    python tools/reproduce/collect_table.py work_dirs/reproduce \
        --out work_dirs/reproduce/table

writes ``table.md``, ``table.json`` and ``table.png``: best and last top-1
per run, mean ± std over seeds, the published number and the difference,
runs still going marked as such.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

from kit_configs import ModelIndex
from kit_read import find_work_dirs, read_run
from kit_table import build_rows, to_json, to_markdown


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(
        description='Write the comparison table of a set of work dirs.')
    parser.add_argument(
        'work_dirs',
        nargs='+',
        help='MMEngine work dirs, or folders above them (searched '
        'recursively), e.g. the --work-root of run_table.py')
    parser.add_argument(
        '--out',
        default='work_dirs/reproduce/table',
        help='output path without extension: .md, .json and .png are '
        'written (default: %(default)s)')
    parser.add_argument(
        '--no-plot', action='store_true', help='skip the PNG plot')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Read the work dirs, write the table; print the markdown."""
    args = parse_args(argv)
    try:
        work_dirs = find_work_dirs(args.work_dirs)
    except FileNotFoundError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    if not work_dirs:
        print(
            f'error: no MMEngine work dir (<timestamp>/vis_data/scalars.json)'
            f' under {", ".join(args.work_dirs)}.',
            file=sys.stderr)
        return 2
    index = ModelIndex()
    rows = build_rows([read_run(d) for d in work_dirs], index.published)
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    markdown = to_markdown(rows)
    with open(args.out + '.md', 'w') as f:
        f.write(markdown)
    with open(args.out + '.json', 'w') as f:
        f.write(to_json(rows))
    written = [args.out + '.md', args.out + '.json']
    if not args.no_plot:
        from kit_plot import plot_rows
        written.append(plot_rows(rows, args.out + '.png'))
    print(markdown)
    print('wrote ' + ', '.join(written))
    return 0


if __name__ == '__main__':
    sys.exit(main())
