# Copyright (c) mmenergykd contributors. All rights reserved.
"""Where the time of one benchmark run goes.

:class:`TimingHook` splits a run's wall time into: ``build`` (config to a
Runner, up to its first hook: model, datasets, teacher checkpoint),
``setup`` (the rest before the first training batch: weights, calibration
pass), ``data`` (waiting for the training batches), ``student`` (the
training steps without the live teacher: preprocessing, student forward /
backward, losses, optimizer), ``teacher`` (the live teacher's forwards inside
the steps, or the bank's lookups), ``evaluation`` (the validation epochs)
and ``other`` (hooks, logging, the Runner's own work between those).
"""
import time
from typing import Dict

from mmengine.hooks import Hook

#: The parts of a run, in the order the reports show them.
PARTS = ('build', 'setup', 'data', 'student', 'teacher', 'evaluation', 'other')


class TimingHook(Hook):
    """Times the parts of one run (see the module docstring).

    Args:
        start (float): ``time.perf_counter()`` when the run's config was
            turned into a Runner.
    """

    priority = 'HIGHEST'

    def __init__(self, start: float):
        self.start = start
        self.parts: Dict[str, float] = dict.fromkeys(PARTS, 0.0)
        self._mark = start
        self._in_step = False
        self._teacher_in_step = 0.0
        self._depth = 0

    def _wrap_teacher(self, runner) -> None:
        """Time the teacher's logits wherever they come from: the live
        teacher (``FrozenTeacher.logits``, also HE-DA's mixed images) or the
        bank (``TeacherSource.logits``); a call inside another counts once."""
        model = runner.model
        for owner, name in ((getattr(model, 'teacher_source', None), 'logits'),
                            (getattr(model, 'frozen_teacher',
                                     None), 'logits')):
            if owner is None or not hasattr(owner, name):
                continue
            inner = getattr(owner, name)

            def timed(*args, _inner=inner, **kwargs):
                self._depth += 1
                t0 = time.perf_counter()
                try:
                    return _inner(*args, **kwargs)
                finally:
                    self._depth -= 1
                    if self._in_step and self._depth == 0:
                        self._teacher_in_step += time.perf_counter() - t0

            setattr(owner, name, timed)

    def before_run(self, runner) -> None:
        now = time.perf_counter()
        self.parts['build'] = now - self.start
        self._mark = now
        self._wrap_teacher(runner)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        now = time.perf_counter()
        key = 'setup' if runner.iter == 0 else 'data'
        self.parts[key] += now - self._mark
        self._mark = now
        self._in_step = True
        self._teacher_in_step = 0.0

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        now = time.perf_counter()
        self._in_step = False
        self.parts['teacher'] += self._teacher_in_step
        self.parts['student'] += now - self._mark - self._teacher_in_step
        self._mark = now

    def before_train_epoch(self, runner) -> None:
        if runner.iter > 0:
            self._charge_other()

    def after_train_epoch(self, runner) -> None:
        self._charge_other()

    def before_val_epoch(self, runner) -> None:
        self._charge_other()

    def after_val_epoch(self, runner, metrics=None) -> None:
        now = time.perf_counter()
        self.parts['evaluation'] += now - self._mark
        self._mark = now

    def _charge_other(self) -> None:
        now = time.perf_counter()
        self.parts['other'] += now - self._mark
        self._mark = now

    def finish(self) -> Dict[str, float]:
        """The parts (seconds) once the run has ended; ``other`` takes the
        rest up to now."""
        self._charge_other()
        return {k: round(v, 3) for k, v in self.parts.items()}
