# Copyright (c) mmenergykd contributors. All rights reserved.
"""Pictures of the teacher's energy split (matplotlib, no pyplot).

Figures are made with :class:`matplotlib.figure.Figure` on an Agg canvas,
so nothing here touches pyplot's global state or needs a display. Every
function takes plain arrays and returns a figure; :func:`figure_to_rgb`
turns one into the RGB array MMEngine's visualizer takes and
:func:`save_figure` writes a PNG.
"""
import math
from typing import List, Optional, Sequence

import numpy as np

__all__ = [
    'GROUP_NAMES', 'GROUP_COLORS', 'new_figure', 'figure_to_rgb',
    'save_figure', 'plot_energy_histogram', 'plot_class_shares',
    'plot_gallery', 'plot_group_accuracy'
]

#: The three energy groups, in index order (0 low, 1 mid, 2 high).
GROUP_NAMES = ('low', 'mid', 'high')
#: One colour per group: confident blue, middle grey, uncertain red.
GROUP_COLORS = ('#3b75af', '#9a9a9a', '#c0392b')
_GROUP_LABELS = ('low energy (confident)', 'middle', 'high energy (uncertain)')


def new_figure(width: float, height: float):
    """A figure on an Agg canvas (no pyplot, no display).

    Args:
        width (float): Width in inches.
        height (float): Height in inches.

    Returns:
        matplotlib.figure.Figure: The figure, with ``dpi=100``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def figure_to_rgb(fig) -> np.ndarray:
    """The rendered figure as an ``(H, W, 3)`` uint8 RGB array.

    Args:
        fig (matplotlib.figure.Figure): A figure from :func:`new_figure`.

    Returns:
        np.ndarray: The pixels (what ``Visualizer.add_image`` takes).
    """
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def save_figure(fig, path: str) -> str:
    """Write the figure as a PNG.

    Args:
        fig (matplotlib.figure.Figure): The figure.
        path (str): The file to write.

    Returns:
        str: ``path``.
    """
    fig.savefig(path, format='png', dpi=100)
    return path


def _share_label(index: int, groups: np.ndarray) -> str:
    count = int((groups == index).sum())
    share = 100.0 * count / max(len(groups), 1)
    return f'{_GROUP_LABELS[index]}: {share:.1f} % ({count})'


def plot_energy_histogram(energies: np.ndarray,
                          low: float,
                          high: float,
                          temperature: float,
                          title: str,
                          bins: int = 50):
    """Histogram of energies, coloured by group, thresholds marked.

    A sample is low-energy when ``E < low``, high-energy when ``E > high``,
    middle otherwise (the rule of training). The legend gives each group's
    share and count; infinite thresholds (ratios 0 or 1) are not drawn.

    Args:
        energies (np.ndarray): Energies of shape (N,).
        low (float): ``tau_low``.
        high (float): ``tau_high``.
        temperature (float): ``T_E`` the energies were computed at.
        title (str): Figure title.
        bins (int): Number of bins. Defaults to 50.

    Returns:
        matplotlib.figure.Figure: The figure.
    """
    energies = np.asarray(energies, dtype=np.float64)
    groups = np.where(energies < low, 0, np.where(energies > high, 2, 1))
    fig = new_figure(8.0, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    edges = np.histogram_bin_edges(energies, bins=bins)
    parts = [energies[groups == g] for g in range(3)]
    ax.hist(
        parts,
        bins=edges,
        stacked=True,
        color=list(GROUP_COLORS),
        label=[_share_label(g, groups) for g in range(3)])
    for value, name in ((low, r'$\tau_{low}$'), (high, r'$\tau_{high}$')):
        if math.isfinite(value):
            ax.axvline(value, color='black', linestyle='--', linewidth=1.2)
            ax.annotate(
                f'{name} = {value:.3f}', (value, 1.0),
                xycoords=('data', 'axes fraction'),
                xytext=(3, -12),
                textcoords='offset points',
                fontsize=8,
                rotation=90,
                va='top')
    ax.set_xlabel(f'teacher energy  E = -T logsumexp(z / T),  T = '
                  f'{temperature:g}   (lower = more confident)')
    ax.set_ylabel('samples')
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc='upper left', frameon=False)
    ax.margins(y=0.25)
    fig.tight_layout()
    return fig


def plot_class_shares(labels: np.ndarray,
                      groups: np.ndarray,
                      class_names: Sequence[str],
                      max_classes: int = 40):
    """Share of each energy group per class (which classes are hard).

    One horizontal stacked bar per class; with more than ``max_classes``
    classes, the ``max_classes`` with the largest high-energy share.

    Args:
        labels (np.ndarray): Ground-truth class per sample (N,).
        groups (np.ndarray): Group per sample (N,), 0 low, 1 mid, 2 high.
        class_names (Sequence[str]): Name per class index.
        max_classes (int): Most classes drawn. Defaults to 40.

    Returns:
        matplotlib.figure.Figure: The figure.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    present = sorted(int(c) for c in np.unique(labels))
    shares = np.zeros((len(present), 3))
    counts = np.zeros(len(present), dtype=np.int64)
    for row, cls in enumerate(present):
        mine = groups[labels == cls]
        counts[row] = len(mine)
        shares[row] = [(mine == g).mean() for g in range(3)]
    order = np.arange(len(present))
    title = 'Energy groups per class (ground-truth label)'
    if len(present) > max_classes:
        order = np.argsort(-shares[:, 2], kind='stable')[:max_classes]
        title += f': the {max_classes} classes with most high-energy samples'
    fig = new_figure(8.0, 1.2 + 0.28 * len(order))
    ax = fig.add_subplot(1, 1, 1)
    ypos = np.arange(len(order))[::-1]
    left = np.zeros(len(order))
    for g in range(3):
        ax.barh(
            ypos,
            100 * shares[order, g],
            left=left,
            color=GROUP_COLORS[g],
            label=_GROUP_LABELS[g],
            height=0.8)
        left += 100 * shares[order, g]
    names = [_class_name(class_names, present[i]) for i in order]
    ax.set_yticks(ypos)
    ax.set_yticklabels([f'{n}  (n={counts[i]})' for n, i in zip(names, order)],
                       fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel('share of the class (%)')
    ax.set_title(title, fontsize=10, pad=22)
    ax.legend(
        fontsize=8,
        ncol=3,
        loc='lower center',
        bbox_to_anchor=(0.5, 1.0),
        frameon=False)
    fig.tight_layout()
    return fig


def _class_name(class_names: Sequence[str], index: int) -> str:
    if class_names is not None and 0 <= index < len(class_names):
        return str(class_names[index])
    return str(index)


def plot_gallery(images: List[np.ndarray],
                 captions: List[str],
                 title: str,
                 columns: int = 8,
                 colors: Optional[List[str]] = None):
    """A grid of images with a caption under each.

    Args:
        images (list[np.ndarray]): ``(H, W, 3)`` or ``(H, W)`` uint8 images.
        captions (list[str]): One caption per image (a few short lines).
        title (str): Figure title.
        columns (int): Images per row. Defaults to 8.
        colors (list[str], optional): Caption colour per image.

    Returns:
        matplotlib.figure.Figure: The figure.
    """
    num = max(len(images), 1)
    columns = min(columns, num)
    rows = int(math.ceil(num / columns))
    lines = max((c.count('\n') + 1 for c in captions), default=1)
    # Inches: image cell, caption under it (7-point lines), title band.
    image_h, caption_h, title_h = 1.4, 0.06 + 0.125 * lines, 0.45
    height = title_h + rows * (image_h + caption_h)
    fig = new_figure(1.55 * columns, height)
    fig.subplots_adjust(
        left=0.01,
        right=0.99,
        top=1 - title_h / height,
        bottom=caption_h / height,
        hspace=caption_h / image_h,
        wspace=0.08)
    colors = colors or ['black'] * len(images)
    for i, (image, caption) in enumerate(zip(images, captions)):
        ax = fig.add_subplot(rows, columns, i + 1)
        gray = image.ndim == 2 or image.shape[-1] == 1
        ax.imshow(
            image.squeeze(),
            cmap='gray' if gray else None,
            vmin=0,
            vmax=255,
            interpolation='nearest')
        ax.set_xticks([])
        ax.set_yticks([])
        ax.text(
            0.5,
            -0.03,
            caption,
            transform=ax.transAxes,
            ha='center',
            va='top',
            fontsize=7,
            linespacing=1.15,
            color=colors[i])
    fig.suptitle(title, fontsize=10, y=1 - 0.12 / height)
    return fig


def plot_group_accuracy(teacher_top1: Sequence[float],
                        counts: Sequence[int],
                        student_top1: Optional[Sequence[float]] = None,
                        title: str = 'Top-1 per teacher-energy group'):
    """Teacher's (and student's) top-1 per energy group, side by side.

    Args:
        teacher_top1 (Sequence[float]): Teacher top-1 (%) per group; NaN
            for an empty group.
        counts (Sequence[int]): Samples per group.
        student_top1 (Sequence[float], optional): Student top-1 (%) per
            group.
        title (str): Figure title.

    Returns:
        matplotlib.figure.Figure: The figure.
    """
    fig = new_figure(6.4, 3.8)
    ax = fig.add_subplot(1, 1, 1)
    xpos = np.arange(3, dtype=float)
    series = [('teacher', teacher_top1, '#4d4d4d')]
    if student_top1 is not None:
        series.append(('student', student_top1, '#e08e0b'))
    width = 0.8 / len(series)
    for k, (name, values, color) in enumerate(series):
        offsets = xpos + (k - (len(series) - 1) / 2) * width
        values = np.nan_to_num(np.asarray(values, dtype=float), nan=0.0)
        bars = ax.bar(offsets, values, width=width, color=color, label=name)
        for bar, value in zip(bars, values):
            ax.annotate(
                f'{value:.1f}',
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                xytext=(0, 2),
                textcoords='offset points',
                ha='center',
                fontsize=8)
    ax.set_xticks(xpos)
    ax.set_xticklabels(
        [f'{g}\n(n={int(c)})' for g, c in zip(GROUP_NAMES, counts)])
    ax.set_ylabel('top-1 (%)')
    ax.set_ylim(0, 112)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc='lower left', frameon=True)
    fig.tight_layout()
    return fig
