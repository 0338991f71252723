# Copyright (c) mmenergykd contributors. All rights reserved.
"""The speed benchmark's main run: every variant timed, round-robin."""
import copy
import os
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional, Tuple

import torch

from .bank import bank_variants, make_bank_bench
from .builders import (amp_factory, build_distiller, build_optim_wrapper,
                       make_batch, make_loader, quiet_logs, synthetic_images,
                       unchecked, variant_losses)
from .memory import run_probe_subprocess
from .ratios import compute_ratios
from .settings import BenchSettings, load_setup
from .steps import (distill_step, loss_only, plain_teacher_pass,
                    student_forward_backward, student_step, teacher_forward)
from .timing import Clock, environment, heda_threshold, log, stats

#: A variant: (prepare, run, images per run).
Variant = Tuple[Callable[[], None], Callable[[], object], int]


def _load_average():
    return list(os.getloadavg()) if hasattr(os, 'getloadavg') else None


class SpeedBenchmark:
    """One benchmark: the distiller and its data, built once; the
    calibration pass, the timed variants and the memory probes."""

    def __init__(self, settings: BenchSettings):
        from mmenergykd.utils import register_all_modules
        register_all_modules()
        quiet_logs()
        self.load_start = _load_average()
        self.settings = settings
        self.device = torch.device(settings.device)
        self.setup = setup = load_setup(settings)
        self.batch_size, self.img_size = setup['batch_size'], setup['img_size']
        torch.backends.cudnn.benchmark = bool(setup['cudnn_benchmark'])
        torch.manual_seed(settings.seed)
        self.clock = Clock(self.device, settings.timer)
        self.amp = amp_factory(settings, self.device)
        log(f'building {settings.config} on {self.device} (batch '
            f'{self.batch_size}, {self.img_size} px)...')
        self.model = build_distiller(setup, self.device)
        self.optim_wrapper = build_optim_wrapper(self.model, setup, settings,
                                                 self.device)
        self.plain_losses = variant_losses(setup, 'plain')
        self.energy_losses = variant_losses(setup, 'energy')
        self.calib_batches = settings.calib_batches or max(
            3, settings.iters // 2)
        images, labels = synthetic_images(
            max(self.calib_batches, 1) * self.batch_size, self.img_size,
            setup['num_classes'], settings.seed)
        self.data = make_batch(images[:self.batch_size],
                               labels[:self.batch_size], setup['collate'])
        self.loader = make_loader(images, labels, self.batch_size,
                                  setup['collate'])

    # ------------------------------------------------------------------
    def calibrate(self) -> dict:
        """The calibration pass: sets the energy loss's thresholds."""
        from mmenergykd.engine.calibration import calibrate_energy
        self.model.teacher_bank = None  # the live teacher
        self.model.set_distill_losses(self.energy_losses)
        self.model.high_energy_augment = None
        return calibrate_energy(
            self.model,
            self.loader,
            seed=self.settings.seed,
            autocast=self.amp)

    def fixed_inputs(self) -> None:
        """The preprocessed batch, the teacher's logits and energies on it,
        and a student-logits leaf for the loss-only rows."""
        from mmenergykd.models.energy import energy_score
        with torch.no_grad():
            pre = self.model.data_preprocessor(copy.deepcopy(self.data), True)
            self.inputs = pre['inputs']
            self.data_samples = pre['data_samples']
            with self.amp():
                teacher_logits = self.model.teacher_logits(self.inputs)
            self.energies = energy_score(
                teacher_logits, self.setup['heda']['energy_temperature'])
        self.logits_for_loss = teacher_logits.float()
        self.student_leaf = torch.randn_like(
            self.logits_for_loss).requires_grad_(True)

    def build_bank(self) -> None:
        """The teacher-bank variant's bank, data and loss check."""
        self.model.set_distill_losses(self.energy_losses)
        temperature = next(iter(
            self.model.energy_consumers().values())).energy_temperature
        self.bank = make_bank_bench(self.setup, self.settings,
                                    self.logits_for_loss, temperature, log)
        if self.bank is not None:
            self.bank_data = self.bank.data(self.data)
            self.bank.compare_losses(self.model, self.data, self.amp)

    def build_heda(self) -> None:
        """HE-DA modules whose threshold lets exactly ``int(B * r)`` samples
        of the batch qualify."""
        from mmenergykd.models.augments import HighEnergyAugment
        self.heda_modules = OrderedDict()
        self.heda_counts = {}
        for ratio in self.settings.heda_ratios:
            module = HighEnergyAugment(
                high_ratio=min(max(ratio, 0.0), 1.0),
                seed=self.settings.seed,
                **self.setup['heda']).to(self.device)
            count = int(self.batch_size * ratio)
            module.set_thresholds(
                float('-inf'), heda_threshold(self.energies, count))
            self.heda_modules[ratio] = module
            self.heda_counts[ratio] = count if count >= 2 else 0
        self.heda_seen: Dict[float, List[float]] = {
            r: []
            for r in self.heda_modules
        }

    # ------------------------------------------------------------------
    # the variants: every step starts as after MMEngine's zero_grad
    # (gradients None); only HE-DA's extra backward (student_fb@k) adds
    # into existing ones.
    def _use(self, losses, heda=None) -> Callable[[], None]:

        def prepare():
            self.model.teacher_bank = None  # the live teacher
            self.model.set_distill_losses(losses)
            self.model.high_energy_augment = heda
            self.model.zero_grad(set_to_none=True)

        return prepare

    def _nothing(self) -> None:
        self.model.zero_grad(set_to_none=True)

    def _zero_grads(self) -> None:
        # HE-DA's extra backward accumulates into the gradients of the same
        # step's main backward: time it adding into existing gradients.
        for param in self.model.student.parameters():
            if param.grad is None:
                param.grad = torch.zeros_like(param)

    def _heda_step(self, ratio: float) -> Callable[[], None]:

        def run():
            log = distill_step(self.model, self.data, self.optim_wrapper)
            self.heda_seen[ratio].append(log.get('heda_num', 0.0))

        return run

    def _loss_loop(self) -> None:
        for _ in range(self.reps):
            # new logits each time, as in a real step; the clone costs both
            # rows the same
            loss_only(self.model, self.student_leaf,
                      self.logits_for_loss.clone(), self.data_samples)

    def _sub_batch_variants(self, variants: Dict[str, Variant],
                            teacher) -> None:
        """HE-DA's extra work on ``k`` mixed images."""
        model, inputs, amp = self.model, self.inputs, self.amp
        sizes = sorted({c for c in self.heda_counts.values() if c >= 2})
        for k in sizes:
            variants[f'student_fb@{k}'] = (
                self._zero_grads,
                lambda k=k: student_forward_backward(model, inputs[:k], amp),
                k)
            if k != self.batch_size:
                variants[f'teacher@{k}'] = (
                    self._nothing,
                    lambda k=k: teacher_forward(teacher, inputs[:k], amp), k)

    def bank_variants(self, variants: Dict[str, Variant]) -> OrderedDict:
        """The teacher-bank comparison (:func:`.bank.bank_variants`)."""
        return bank_variants(self, variants)

    def variants(self) -> Dict[str, Variant]:
        """Every timed variant, in report order."""
        model, data, wrapper = self.model, self.data, self.optim_wrapper
        batch = self.batch_size
        teacher = unchecked(model.frozen_teacher)
        variants: Dict[str, Variant] = OrderedDict()
        variants['student'] = (self._nothing,
                               lambda: student_step(model, data, wrapper),
                               batch)
        variants['teacher'] = (
            self._nothing,
            lambda: teacher_forward(teacher, self.inputs, self.amp), batch)
        variants['kd'] = (self._use(self.plain_losses),
                          lambda: distill_step(model, data, wrapper), batch)
        variants['energykd'] = (self._use(self.energy_losses),
                                lambda: distill_step(model, data, wrapper),
                                batch)
        for ratio, module in self.heda_modules.items():
            variants[f'heda@{ratio:g}'] = (self._use(self.energy_losses,
                                                     module),
                                           self._heda_step(ratio), batch)
        self._sub_batch_variants(variants, teacher)
        self.reps = max(1, int(self.settings.loss_reps))
        variants['kd_loss'] = (self._use(self.plain_losses), self._loss_loop,
                               batch)
        variants['energykd_loss'] = (self._use(self.energy_losses),
                                     self._loss_loop, batch)
        return variants

    # ------------------------------------------------------------------
    def time_variants(self,
                      variants: Dict[str, Variant],
                      repeat: bool = False) -> OrderedDict:
        """Round-robin timing: one step of each variant per round, the
        order rotating, so a slow drift of the machine affects all alike.
        With ``repeat`` each timed step follows an untimed one of the same
        variant (as in training, where a step follows its like; the first
        step after another variant can pay for the other's memory layout).
        """
        names = list(variants)
        times: Dict[str, List[float]] = {name: [] for name in names}
        warmup = self.settings.warmup
        rounds = warmup + self.settings.iters
        for round_idx in range(rounds):
            offset = round_idx % len(names)
            started = time.perf_counter()
            for name in names[offset:] + names[:offset]:
                prepare, run, _ = variants[name]
                for _ in range(2 if repeat else 1):
                    prepare()
                    elapsed = self.clock.time(run)
                if round_idx >= warmup:
                    times[name].append(elapsed)
            self.model.zero_grad(set_to_none=True)
            log(f'round {round_idx + 1}/{rounds} '
                f'({"warm-up" if round_idx < warmup else "timed"}): '
                f'{time.perf_counter() - started:.1f} s')
        timings = OrderedDict()
        for name in names:
            timings[name] = stats(times[name], variants[name][2])
            if name.endswith('_loss'):
                self._per_rep(timings[name])
        return timings

    def _per_rep(self, row: dict) -> None:
        """Loss-only rows run ``reps`` times per timing: per repetition."""
        for key in ('median_s', 'mean_s', 'min_s', 'max_s'):
            row[key] /= self.reps
        row['times_s'] = [t / self.reps for t in row['times_s']]
        row['images_per_s'] *= self.reps

    def time_calibration(self) -> Dict[str, dict]:
        """Calibration passes against plain teacher inference on the same
        loader, alternating; one "step" is one pass over the loader."""
        self.model.set_distill_losses(self.energy_losses)
        self.model.high_energy_augment = None
        teacher = self.model.frozen_teacher

        def plain_pass():
            plain_teacher_pass(teacher, self.model.data_preprocessor,
                               self.loader, self.amp)

        passes = dict(calibration=[], teacher_eval=[])
        num_passes = max(1, self.settings.calib_passes)
        log(f'calibration vs plain teacher inference ({self.calib_batches} '
            f'batches a pass, {num_passes} passes each, alternating)...')
        plain_pass()  # warm-up (the calibration's was the first pass)
        for idx in range(num_passes):
            runs = [('teacher_eval', plain_pass),
                    ('calibration', self.calibrate)]
            for name, run in runs if idx % 2 else runs[::-1]:
                passes[name].append(self.clock.time(run))
        return {
            name: stats(passes[name], self.calib_batches * self.batch_size)
            for name in ('calibration', 'teacher_eval')
        }

    def thresholds(self) -> dict:
        """The calibrated and the HE-DA thresholds, for the probes."""
        return dict(
            energy={
                name: [float(loss.low_threshold),
                       float(loss.high_threshold)]
                for name, loss in self.energy_losses.items()
                if hasattr(loss, 'low_threshold')
            },
            heda={
                f'{r:g}': float(m.high_threshold)
                for r, m in self.heda_modules.items()
            })

    def memory(self) -> OrderedDict:
        """Peak memory of each variant, each in a fresh process."""
        memory = OrderedDict()
        if not self.settings.memory:
            return memory
        names = ['student', 'teacher', 'kd', 'energykd'] + [
            f'heda@{r:g}' for r in self.heda_modules
        ] + ['calibration', 'teacher_eval']
        jobs = self.settings.memory_jobs
        log(f'memory probes: {len(names)} fresh processes, {jobs} at a '
            'time...')
        thresholds = self.thresholds()
        with ThreadPoolExecutor(max(1, jobs)) as pool:
            results = pool.map(
                lambda name: run_probe_subprocess(self.settings, name,
                                                  thresholds), names)
            for name, result in zip(names, results):
                memory[name] = result
        return memory

    # ------------------------------------------------------------------
    def fast_paths(self) -> dict:
        """The distiller's fast paths and checks, as run."""
        model, teacher = self.model, self.model.frozen_teacher
        teacher_settings = self.setup['model'].get('teacher_settings') or {}
        return dict(
            channels_last=bool(teacher.channels_last),
            teacher_inference_mode=bool(teacher.inference_mode),
            compile_teacher=teacher_settings.get('compile', False),
            check_finite_teacher=bool(teacher.check_finite),
            check_finite_loss=bool(model.check_finite_loss),
            amp=self.settings.amp and self.settings.amp_dtype,
            cudnn_benchmark=bool(self.setup['cudnn_benchmark']))

    def report(self,
               calibration: dict,
               timings: dict,
               memory: dict,
               bank_timings: Optional[dict] = None) -> OrderedDict:
        """The report dict (see the package doc)."""
        settings, setup = self.settings, self.setup
        report = OrderedDict(
            command=None,
            config=settings.config,
            settings=settings.to_dict(),
            device=str(self.device),
            environment=dict(
                environment(self.device), load_average_start=self.load_start),
            batch_size=self.batch_size,
            img_size=self.img_size,
            labels=dict(
                kd=setup['plain_label'], energykd=setup['energy_label']),
            loss_configs=dict(
                kd=setup['plain_losses'],
                energykd=setup['energy_losses'],
                heda=setup['heda']),
            fast_paths=self.fast_paths(),
            calibration=dict(
                num_samples=calibration['num_samples'],
                thresholds=calibration['thresholds']),
            heda_selected={
                f'{r:g}':
                dict(
                    expected=self.heda_counts[r],
                    observed=sorted(set(int(v) for v in self.heda_seen[r])))
                for r in self.heda_modules
            },
            timings=timings,
            memory=memory)
        report['teacher_bank'] = bank = self.bank and self.bank.describe(
            setup['max_epochs'])
        report['bank_timings'] = bank_timings
        for suffix, stat in (('', 'median_s'), ('_of_min', 'min_s')):
            report[f'ratios{suffix}'], report[f'targets{suffix}'] = \
                compute_ratios(timings, memory, settings.heda_ratios,
                               self.heda_counts, self.batch_size, stat=stat,
                               bank=bank, bank_timings=bank_timings)
        return report


def run_benchmark(settings: BenchSettings) -> dict:
    """Run every measurement; returns the report dict (see package doc)."""
    bench = SpeedBenchmark(settings)
    log('calibration pass (also warm-up)...')
    calibration = bench.calibrate()
    bench.fixed_inputs()
    bench.build_heda()
    bench.build_bank()
    variants, bank_timings = bench.variants(), None
    try:
        timings = bench.time_variants(variants)
        if bench.bank is not None:
            log('teacher bank comparison (each step after an untimed one of '
                'the same variant)...')
            bank_timings = bench.time_variants(
                bench.bank_variants(variants), repeat=True)
    finally:
        if bench.bank is not None:
            bench.bank.detach(bench.model)
            bench.bank.close()
    timings.update(bench.time_calibration())
    return bench.report(calibration, timings, bench.memory(), bank_timings)
