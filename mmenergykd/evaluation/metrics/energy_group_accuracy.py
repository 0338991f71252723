# Copyright (c) mmenergykd contributors. All rights reserved.
"""The student's top-1 per teacher-energy group, as a validation metric."""
import math
from typing import Dict, List, Optional, Sequence

from mmengine.evaluator import BaseMetric

from mmenergykd.registry import METRICS

__all__ = ['EnergyGroupAccuracy']

_GROUPS = ('low', 'mid', 'high')


def _first(value) -> int:
    """The first entry of a label tensor / sequence, or the int itself."""
    if hasattr(value, 'reshape'):
        return int(value.reshape(-1)[0])
    if isinstance(value, (list, tuple)):
        return int(value[0])
    return int(value)


@METRICS.register_module()
class EnergyGroupAccuracy(BaseMetric):
    """The student's top-1 on each teacher-energy group (low, mid, high).

    List it in ``val_evaluator`` (or ``test_evaluator``) next to
    ``Accuracy``::

        val_evaluator = [
            dict(type='Accuracy', topk=(1, )),
            dict(type='EnergyGroupAccuracy'),
        ]

    with ``dict(type='EnergyCalibrationHook')`` in ``custom_hooks``: before
    each validation / test loop that lists this metric, the hook switches
    on the distiller's energy annotation, so ``forward(mode='predict')``
    also runs the teacher once per batch and writes each sample's
    ``teacher_energy`` and ``energy_group`` (the energy loss's ``T_E`` and
    calibrated thresholds, those of training). The cost is that teacher
    forward, on validation batches only; without this metric nothing
    changes.

    A sample is right when its predicted label (``pred_label``, the head's
    argmax) equals its first ground-truth label. Logged keys (with the
    default prefix): ``energy_group/top1`` and ``energy_group/count`` over
    every sample, and per group ``g`` in ``low, mid, high``:
    ``energy_group/g_top1`` (%, NaN for an empty group) and
    ``energy_group/g_count``. The group top-1s weighted by the counts give
    ``energy_group/top1``, which equals ``Accuracy``'s top-1.

    Args:
        collect_device (str): ``'cpu'`` or ``'gpu'``, where results are
            gathered across ranks. Defaults to ``'cpu'``.
        prefix (str, optional): Key prefix. Defaults to ``'energy_group'``.
    """

    default_prefix: Optional[str] = 'energy_group'

    def __init__(self,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep ``(right, group)`` of each sample.

        Args:
            data_batch: The batch (unused).
            data_samples (Sequence[dict]): The model's predictions, as
                dicts (MMEngine's ``Evaluator`` converts them).
        """
        for sample in data_samples:
            if 'energy_group' not in sample:
                raise ValueError(
                    'EnergyGroupAccuracy: the predictions carry no '
                    '`energy_group`. The distiller writes it only when '
                    "dict(type='EnergyCalibrationHook') is in `custom_hooks` "
                    '(it switches the annotation on before validation / '
                    'testing) and the model is an EnergyKDDistiller. Add '
                    'the hook, or remove EnergyGroupAccuracy from the '
                    'evaluator.')
            right = _first(sample['pred_label']) == _first(sample['gt_label'])
            self.results.append(
                dict(right=bool(right), group=_first(sample['energy_group'])))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Top-1 and count over every sample and per energy group.

        Args:
            results (list[dict]): ``right`` and ``group`` of every sample.

        Returns:
            dict[str, float]: ``top1``, ``count``, ``{low,mid,high}_top1``,
            ``{low,mid,high}_count``.
        """
        metrics: Dict[str, float] = {}
        total = len(results)
        right = sum(r['right'] for r in results)
        metrics['top1'] = 100.0 * right / total if total else math.nan
        metrics['count'] = total
        for index, name in enumerate(_GROUPS):
            mine = [r['right'] for r in results if r['group'] == index]
            metrics[f'{name}_top1'] = (100.0 * sum(mine) /
                                       len(mine) if mine else math.nan)
            metrics[f'{name}_count'] = len(mine)
        return metrics
