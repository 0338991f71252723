# Copyright (c) mmenergykd contributors. All rights reserved.
"""Peak memory of each variant, each in a fresh process.

A probe runs ``tools/benchmark_speed.py --memory-probe SPEC`` (the entry
script, so it imports this package as the benchmark does) and prints one
JSON line.
"""
import gc
import json
import os.path as osp
import resource
import subprocess
import sys
import warnings
from typing import Optional, Tuple

import torch
from torch import nn

from .builders import (StudentAlone, amp_factory, build_distiller,
                       build_optim_wrapper, build_preprocessor, build_teacher,
                       make_batch, make_loader, quiet_logs, synthetic_images,
                       variant_losses)
from .settings import BenchSettings, load_setup
from .steps import (distill_step, plain_teacher_pass, student_step,
                    teacher_forward)
from .timing import Clock

#: The command-line flag that makes ``tools/benchmark_speed.py`` a probe.
PROBE_FLAG = '--memory-probe'
#: The benchmark's entry script, run by each probe.
ENTRY = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
    'benchmark_speed.py')
STEPS = 2  # the first step allocates lazily created state


def _proc_status_kb(field: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split(':', 1)[1].split()[0])
    except (OSError, ValueError):
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset the process's peak RSS (``VmHWM``) to its current RSS (Linux:
    ``echo 5 > /proc/self/clear_refs``), so that the peak of what runs next
    is not hidden by an earlier one (importing the libraries peaks higher
    than a small variant does)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        return False
    return _proc_status_kb('VmHWM') is not None


def _rss_bytes() -> int:
    value = _proc_status_kb('VmRSS')
    if value is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return value * 1024


def _peak_rss_bytes() -> int:
    value = _proc_status_kb('VmHWM')
    if value is None:  # Linux reports ru_maxrss in kilobytes
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return value * 1024


def run_probe_subprocess(settings: BenchSettings, variant: str,
                         thresholds: dict) -> dict:
    """Peak memory of ``variant``, measured in a fresh process.

    Args:
        settings (BenchSettings): The benchmark's settings.
        variant (str): ``student``, ``teacher``, ``teacher_eval``, ``kd``,
            ``energykd``, ``heda@<ratio>`` or ``calibration``.
        thresholds (dict): The calibrated ``energy`` thresholds and the
            ``heda`` thresholds of the main run.

    Returns:
        dict: ``variant``, ``peak_bytes``, ``baseline_bytes``, ``method``.
    """
    spec = json.dumps(
        dict(
            settings=settings.to_dict(),
            variant=variant,
            thresholds=thresholds))
    proc = subprocess.run([sys.executable, ENTRY, PROBE_FLAG, spec],
                          capture_output=True,
                          text=True,
                          timeout=1800)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f'memory probe {variant} failed '
                           f'(exit {proc.returncode}):\n{proc.stderr[-3000:]}')
    return json.loads(lines[-1])


def _warm_cpu_kernels() -> None:
    """Load the convolution / optimizer code paths before the baseline, so
    their code pages are not counted as a variant's memory."""
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for memory_format in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(2, 3, 8, 8).contiguous(memory_format=memory_format)
        net(x).logsumexp(1).mean().backward()
        opt.step()
        with torch.no_grad():
            net.eval()(x)
        net.train()


def _baseline(device: torch.device) -> Tuple[bool, int]:
    """Reset the peak and read the memory in use before the variant's
    models are built; returns ``(peak_reset, baseline_bytes)``."""
    if device.type == 'cpu':
        _warm_cpu_kernels()
    gc.collect()
    peak_reset = device.type == 'cpu' and _reset_peak_rss()
    baseline = _rss_bytes() if device.type == 'cpu' else 0
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        baseline = torch.cuda.memory_allocated(device)
    return peak_reset, baseline


def _peak(device: torch.device, baseline: int,
          peak_reset: bool) -> Tuple[int, str]:
    """The variant's peak memory and how it was measured."""
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated(device)
        method = 'torch.cuda.max_memory_allocated (includes weights and ' \
            'optimizer state of the variant)'
    else:
        peak = _peak_rss_bytes() - baseline
        method = ('peak RSS (VmHWM, reset after imports and warm-up)' if
                  peak_reset else 'peak RSS (ru_maxrss: may include the '
                  'import-time peak)') + ' minus the RSS before building ' \
            'the variant'
    return peak, method


def _run_alone(variant: str, setup: dict, settings: BenchSettings,
               device: torch.device, data: dict, loader) -> None:
    """The student step, the teacher forward or plain teacher inference,
    with only the student or only the teacher built."""
    clock = Clock(device)
    amp = amp_factory(settings, device)
    if variant == 'student':
        model = StudentAlone(setup).to(device).train()
        model.data_preprocessor.to(device)  # it tracks its own device
        wrapper = build_optim_wrapper(model, setup, settings, device)
        for _ in range(STEPS):
            clock.time(lambda: student_step(model, data, wrapper))
        return
    preprocessor = build_preprocessor(setup).to(device)
    teacher = build_teacher(setup, check_finite=False).to(device)
    if variant == 'teacher':
        inputs = preprocessor(data, False)['inputs']
        for _ in range(STEPS):
            clock.time(lambda: teacher_forward(teacher, inputs, amp))
    else:
        plain_teacher_pass(teacher, preprocessor, loader, amp)


def _run_distiller(variant: str, setup: dict, settings: BenchSettings,
                   device: torch.device, data: dict, loader,
                   thresholds: dict) -> None:
    """A distillation step (``kd``, ``energykd``, ``heda@r``) or the
    calibration pass, with the main run's thresholds."""
    from mmenergykd.engine.calibration import calibrate_energy
    from mmenergykd.models.augments import HighEnergyAugment
    clock = Clock(device)
    model = build_distiller(setup, device)
    wrapper = build_optim_wrapper(model, setup, settings, device)
    model.set_distill_losses(
        variant_losses(setup, 'plain' if variant == 'kd' else 'energy'))
    for name, (low, high) in thresholds['energy'].items():
        if name in model.distill_losses:
            model.distill_losses[name].set_thresholds(low, high)
    if variant == 'calibration':
        calibrate_energy(
            model,
            loader,
            seed=settings.seed,
            autocast=amp_factory(settings, device))
        return
    if variant.startswith('heda@'):
        ratio = float(variant.split('@')[1])
        module = HighEnergyAugment(
            high_ratio=min(max(ratio, 0.0), 1.0),
            seed=settings.seed,
            **setup['heda']).to(device)
        module.set_thresholds(float('-inf'), thresholds['heda'][f'{ratio:g}'])
        model.high_energy_augment = module
    for _ in range(STEPS):
        clock.time(lambda: distill_step(model, data, wrapper))


def probe(spec: dict) -> dict:
    """Peak memory of one variant, in this (fresh) process."""
    from mmenergykd.utils import register_all_modules
    register_all_modules()
    quiet_logs()
    settings = BenchSettings(**spec['settings'])
    if settings.threads:
        torch.set_num_threads(settings.threads)
    variant = spec['variant']
    device = torch.device(settings.device)
    setup = load_setup(settings)
    batch_size = setup['batch_size']
    torch.backends.cudnn.benchmark = bool(setup['cudnn_benchmark'])
    torch.manual_seed(settings.seed)
    calib_batches = settings.calib_batches or max(3, settings.iters // 2)
    num_images = batch_size * (
        calib_batches if variant in ('calibration', 'teacher_eval') else 1)
    images, labels = synthetic_images(num_images, setup['img_size'],
                                      setup['num_classes'], settings.seed)
    data = make_batch(images[:batch_size], labels[:batch_size],
                      setup['collate'])
    loader = make_loader(images, labels, batch_size, setup['collate'])
    peak_reset, baseline = _baseline(device)
    if variant in ('student', 'teacher', 'teacher_eval'):
        _run_alone(variant, setup, settings, device, data, loader)
    else:
        _run_distiller(variant, setup, settings, device, data, loader,
                       spec['thresholds'])
    peak, method = _peak(device, baseline, peak_reset)
    return dict(
        variant=variant,
        peak_bytes=int(peak),
        baseline_bytes=int(baseline),
        method=method)


def probe_main(spec: str) -> None:
    """Run :func:`probe` on a JSON spec and print its result as JSON."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        result = probe(json.loads(spec))
    print(json.dumps(result), flush=True)
