# Copyright (c) mmenergykd contributors. All rights reserved.
"""The ratios of the speed benchmark and the targets they are held to."""
from collections import OrderedDict
from typing import Optional, Sequence, Tuple

from .settings import TARGETS


def compute_ratios(timings: dict,
                   memory: dict,
                   heda_ratios: Sequence[float],
                   heda_counts: dict,
                   batch_size: int,
                   stat: str = 'median_s',
                   bank: Optional[dict] = None,
                   bank_timings: Optional[dict] = None) -> Tuple[dict, dict]:
    """Ratios of the report and the targets they are held against.

    ``stat`` picks the statistic of the step times: ``'median_s'`` (the
    reported one) or ``'min_s'`` (the least disturbed step, printed for
    reference on a shared machine). ``bank`` (the report's
    ``teacher_bank``) adds the teacher-bank ratios (:func:`bank_ratios`)
    from ``bank_timings`` (the report's, default ``timings``).
    """

    def med(name):
        return timings[name][stat]

    limit = med('student') + med('teacher')
    ratios = OrderedDict()
    ratios['limit_s'] = limit
    ratios['kd_over_limit'] = med('kd') / limit
    ratios['energykd_over_limit'] = med('energykd') / limit
    ratios['energykd_over_kd'] = med('energykd') / med('kd')
    ratios['energy_logic_overhead_s'] = med('energykd_loss') - med('kd_loss')
    ratios['energy_logic_overhead_over_kd_step'] = ratios[
        'energy_logic_overhead_s'] / med('kd')
    heda = OrderedDict()
    for ratio in heda_ratios:
        name = f'heda@{ratio:g}'
        k = heda_counts[ratio]
        extra = 0.0
        if k >= 2:
            teacher_k = med('teacher') if k == batch_size else med(
                f'teacher@{k}')
            extra = med(f'student_fb@{k}') + teacher_k
        predicted = med('energykd') + extra
        heda[f'{ratio:g}'] = OrderedDict(
            selected=k,
            step_s=med(name),
            over_kd=med(name) / med('kd'),
            predicted_over_kd=predicted / med('kd'),
            linear_predicted_over_kd=(med('energykd') + ratio * limit) /
            med('kd'),
            over_predicted=med(name) / predicted)
    ratios['heda'] = heda
    ratios['calibration_over_teacher_eval'] = med('teacher_eval') / med(
        'calibration')  # same images per pass: throughput ratio
    if bank is not None:
        ratios['bank'] = bank_ratios(bank_timings or timings, bank, batch_size,
                                     stat)
        ratios['bank_over_student'] = ratios['bank']['over_student']
    if memory:
        mem_limit = memory['student']['peak_bytes'] + memory['teacher'][
            'peak_bytes']
        ratios['memory_limit_bytes'] = mem_limit
        ratios['kd_memory_over_limit'] = memory['kd']['peak_bytes'] / \
            mem_limit
        ratios['energykd_memory_over_limit'] = memory['energykd'][
            'peak_bytes'] / mem_limit
    return ratios, targets_of(ratios)


def bank_ratios(timings: dict,
                bank: dict,
                batch_size: int,
                stat: str = 'median_s') -> OrderedDict:
    """The teacher bank's step ratios, build cost and break-even.

    - ``over_student``, ``over_live``, ``over_kd``: the step with the bank
      over the student's step alone, the same step with the live teacher
      (``energykd``) and the live KD step;
    - ``build_per_view_s``: the timed build over the (sample, view) pairs
      it wrote; ``teacher_per_image_s``: the teacher's forward per image;
    - ``build_epochs``: building the bank (every view of every sample) in
      teacher-forward epochs, ``num_views * build_per_view_s /
      teacher_per_image_s``;
    - ``saved_epochs_per_epoch``: what a training epoch with the bank saves
      in teacher-forward epochs, ``(live - bank step) / teacher forward``;
    - ``break_even_runs``: student runs of ``training_epochs`` epochs that
      pay the build back, ``build_epochs / (training_epochs *
      saved_epochs_per_epoch)`` (inf when nothing is saved).
    """

    def med(name):
        return timings[name][stat]

    step = med('energykd_bank')
    per_view = med('bank_build') / (batch_size * bank['build_views'])
    per_image = med('teacher') / batch_size
    out = OrderedDict(
        step_s=step,
        over_student=step / med('student'),
        over_live=step / med('energykd'),
        over_kd=step / med('kd'),
        build_per_view_s=per_view,
        teacher_per_image_s=per_image,
        build_epochs=bank['num_views'] * per_view / per_image,
        saved_epochs_per_epoch=(med('energykd') - step) / med('teacher'),
        training_epochs=bank.get('training_epochs'))
    saved_per_run = (out['training_epochs']
                     or 1) * out['saved_epochs_per_epoch']
    out['break_even_runs'] = out['build_epochs'] / saved_per_run \
        if saved_per_run > 0 else float('inf')
    return out


def targets_of(ratios: dict) -> dict:
    """Each target of :data:`TARGETS` with its value and whether it is met
    (one HE-DA target per high_ratio)."""
    targets = OrderedDict()
    for key, (op, bound) in TARGETS.items():
        if key == 'heda_over_predicted':
            for ratio, values in ratios['heda'].items():
                value = values['over_predicted']
                targets[f'heda@{ratio}_over_predicted'] = dict(
                    value=value,
                    target=f'1 +- {bound:g}',
                    met=abs(value - 1) <= bound)
            continue
        if key not in ratios:
            continue
        value = ratios[key]
        met = value <= bound if op == '<=' else value >= bound
        targets[key] = dict(value=value, target=f'{op} {bound:g}', met=met)
    return targets
