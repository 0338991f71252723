# Copyright (c) mmenergykd contributors. All rights reserved.
from .energy_plots import (GROUP_COLORS, GROUP_NAMES, figure_to_rgb,
                           new_figure, plot_class_shares,
                           plot_energy_histogram, plot_gallery,
                           plot_group_accuracy, save_figure)

__all__ = [
    'GROUP_COLORS', 'GROUP_NAMES', 'figure_to_rgb', 'new_figure',
    'plot_class_shares', 'plot_energy_histogram', 'plot_gallery',
    'plot_group_accuracy', 'save_figure'
]
