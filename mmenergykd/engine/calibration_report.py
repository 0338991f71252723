# Copyright (c) mmenergykd contributors. All rights reserved.
"""What a calibration pass shows in the logs people already watch.

The energy histogram with its thresholds as an image, and the thresholds,
group shares and counts, the teacher's top-1 per group and HE-DA's
selection as scalars, through the runner's MMEngine visualizer: they land
in ``<work_dir>/<timestamp>/vis_data`` (``LocalVisBackend``) and in
TensorBoard or Weights & Biases when the config's ``visualizer`` names
those backends.
"""
from typing import Dict

from mmenergykd.visualization import (GROUP_NAMES, figure_to_rgb,
                                      plot_energy_histogram)

__all__ = [
    'HEDA_NAME', 'calibration_scalars', 'calibration_images', 'log_calibration'
]

#: The consumer name of HE-DA in ``EnergyKDDistiller.energy_consumers()``.
HEDA_NAME = 'high_energy_augment'
#: Prefix of every scalar; images use ``energy_calibration_`` (MMEngine's
#: LocalVisBackend writes ``<name>_<step>.png`` and cannot take a ``/``).
PREFIX = 'energy_calibration'


def calibration_scalars(summary: dict) -> Dict[str, float]:
    """The scalars of a calibration summary, by tag.

    Args:
        summary (dict): What :func:`~mmenergykd.engine.calibrate_energy`
            returns (``num_samples``, ``thresholds``, ``groups``).

    Returns:
        dict[str, float]: ``energy_calibration/num_samples`` and, per
        consumer ``<c>``: ``energy_calibration/<c>/{low,high}_threshold``,
        ``.../{low,mid,high}_share``, ``.../{low,mid,high}_count``,
        ``.../teacher_{low,mid,high}_top1`` (groups with labelled samples);
        for HE-DA also ``.../heda_selected_count`` and
        ``.../heda_selected_share`` (the calibration samples above its
        threshold, the ones it mixes).
    """
    scalars = {f'{PREFIX}/num_samples': float(summary['num_samples'])}
    for name, (low, high) in summary['thresholds'].items():
        tag = f'{PREFIX}/{name}'
        scalars[f'{tag}/low_threshold'] = float(low)
        scalars[f'{tag}/high_threshold'] = float(high)
        stats = summary.get('groups', {}).get(name)
        if not stats:
            continue
        for group, count, share, top1 in zip(GROUP_NAMES, stats['counts'],
                                             stats['shares'],
                                             stats['teacher_top1']):
            scalars[f'{tag}/{group}_count'] = float(count)
            scalars[f'{tag}/{group}_share'] = float(share)
            if top1 == top1:  # not NaN: the group has labelled samples
                scalars[f'{tag}/teacher_{group}_top1'] = float(top1)
        if name == HEDA_NAME:
            scalars[f'{tag}/heda_selected_count'] = float(stats['counts'][2])
            scalars[f'{tag}/heda_selected_share'] = float(stats['shares'][2])
    return scalars


def calibration_images(summary: dict, consumers: dict) -> dict:
    """One energy histogram per consumer, its thresholds marked.

    Args:
        summary (dict): What :func:`~mmenergykd.engine.calibrate_energy`
            returns (``energies`` per ``T_E``, ``thresholds``).
        consumers (dict): The distiller's energy consumers by name.

    Returns:
        dict[str, np.ndarray]: Image name -> RGB uint8 array, names
        ``energy_calibration_<consumer>``.
    """
    images = {}
    energies = summary.get('energies', {})
    for name, (low, high) in summary['thresholds'].items():
        consumer = consumers.get(name)
        if consumer is None or consumer.energy_temperature not in energies:
            continue
        values = energies[consumer.energy_temperature].numpy()
        fig = plot_energy_histogram(
            values,
            low,
            high,
            consumer.energy_temperature,
            title=(f'Energy calibration, {name}: the teacher on '
                   f'{len(values)} training samples (low_ratio '
                   f'{consumer.low_ratio:g}, high_ratio '
                   f'{consumer.high_ratio:g})'))
        images[f'{PREFIX}_{name}'] = figure_to_rgb(fig)
    return images


def log_calibration(runner, summary: dict, consumers: dict) -> None:
    """Write a calibration pass to the runner's visualizer.

    Scalars (:func:`calibration_scalars`) and histograms
    (:func:`calibration_images`) at the current iteration (0 for a new
    run). MMEngine's visualizer writes on the main process only.

    Args:
        runner (Runner): The runner (its ``visualizer`` and ``iter``).
        summary (dict): What :func:`~mmenergykd.engine.calibrate_energy`
            returns.
        consumers (dict): The distiller's energy consumers by name.
    """
    visualizer = getattr(runner, 'visualizer', None)
    if visualizer is None:
        return
    step = int(getattr(runner, 'iter', 0))
    visualizer.add_scalars(calibration_scalars(summary), step=step)
    for name, image in calibration_images(summary, consumers).items():
        visualizer.add_image(name, image, step=step)
