# Copyright (c) mmenergykd contributors. All rights reserved.
"""Plot the comparison table: bars per pair and method, published marks."""
from typing import List, Sequence


def plot_rows(rows: Sequence[dict], path: str) -> str:
    """Write a PNG: mean best top-1 per config (std as error bars), one
    group of bars per pair, the published numbers as black diamonds.

    Args:
        rows (Sequence[dict]): Rows from :func:`kit_table.build_rows`.
        path (str): The PNG to write.

    Returns:
        str: ``path``.
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError('The plot needs matplotlib: `pip install '
                          'matplotlib`, or pass --no-plot.') from exc
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    groups: List[str] = []
    methods: List[str] = []
    for row in rows:
        group = row['pair'] or row['name']
        if group not in groups:
            groups.append(group)
        method = row['method'] or row['name']
        if method not in methods:
            methods.append(method)
    width = 0.8 / max(len(methods), 1)
    fig, ax = plt.subplots(
        figsize=(max(6.0, 1.4 * len(groups) * max(1,
                                                  len(methods) / 3)), 4.5))
    cmap = plt.get_cmap('tab10')
    for row in rows:
        if row['best']['mean'] is None:
            continue
        gi = groups.index(row['pair'] or row['name'])
        mi = methods.index(row['method'] or row['name'])
        x = gi - 0.4 + width * (mi + 0.5)
        ax.bar(
            x,
            row['best']['mean'],
            width,
            yerr=row['best']['std'] or 0,
            color=cmap(mi % 10),
            capsize=2,
            label=methods[mi]
            if gi == _first_group(rows, mi, methods, groups) else None)
        if row['published'] is not None:
            ax.plot(
                x,
                row['published'],
                'kD',
                markersize=4,
                label='published' if not _has_label(ax, 'published') else None)
    means = [r['best']['mean'] for r in rows if r['best']['mean'] is not None]
    pubs = [r['published'] for r in rows if r['published'] is not None]
    if means or pubs:
        low, high = min(means + pubs), max(means + pubs)
        ax.set_ylim(max(0.0, low - 3.0), high + 2.0)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=20, ha='right', fontsize=8)
    ax.set_ylabel('best top-1 (%), mean over seeds')
    ax.legend(fontsize=7, ncol=2)
    ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _first_group(rows: Sequence[dict], mi: int, methods: List[str],
                 groups: List[str]) -> int:
    """Index of the first pair where method ``mi`` has a bar."""
    for row in rows:
        if (row['method'] or row['name']) == methods[mi] \
                and row['best']['mean'] is not None:
            return groups.index(row['pair'] or row['name'])
    return -1


def _has_label(ax, label: str) -> bool:
    """Whether the axes already carry a legend entry ``label``."""
    return label in ax.get_legend_handles_labels()[1]
