# Copyright (c) mmenergykd contributors. All rights reserved.
"""Clocks, statistics and the environment of the speed benchmark."""
import os
import platform
import statistics
import sys
import time
from typing import Callable, List

import torch
from torch import Tensor


class Clock:
    """Wall-clock time (the default; synchronised on CUDA) or, on a shared
    CPU machine, the process's CPU time over all its threads
    (``--timer process``), which other processes' load barely changes."""

    def __init__(self, device: torch.device, timer: str = 'wall'):
        self.cuda = device.type == 'cuda'
        if timer not in ('wall', 'process'):
            raise ValueError(f"timer must be 'wall' or 'process', got "
                             f'{timer!r}')
        if timer == 'process' and self.cuda:
            raise ValueError('--timer process measures CPU time: use it with '
                             '--device cpu only.')
        self.now = time.perf_counter if timer == 'wall' else \
            time.process_time

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def time(self, fn: Callable) -> float:
        self.sync()
        start = self.now()
        fn()
        self.sync()
        return self.now() - start


def stats(times: List[float], images: int) -> dict:
    """Median, mean, extremes and throughput of a list of times."""
    median = statistics.median(times)
    return dict(
        median_s=median,
        mean_s=statistics.fmean(times),
        min_s=min(times),
        max_s=max(times),
        n=len(times),
        times_s=list(times),
        images=images,
        images_per_s=images / median if median > 0 else float('inf'))


def heda_threshold(energies: Tensor, count: int) -> float:
    """A threshold above which exactly ``count`` of ``energies`` lie
    (halfway between neighbours, so round-off cannot move a sample)."""
    ordered = energies.float().sort().values.tolist()
    num = len(ordered)
    if count <= 0:
        return float('inf')
    if count >= num:
        return float('-inf')
    return (ordered[num - count - 1] + ordered[num - count]) / 2


def log(msg: str) -> None:
    """A progress line on stderr (stdout holds the report)."""
    print(msg, file=sys.stderr, flush=True)


def environment(device: torch.device) -> dict:
    """The machine and library versions of the report."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    env = dict(
        load_average=list(os.getloadavg())
        if hasattr(os, 'getloadavg') else None,
        torch=torch.__version__,
        python=platform.python_version(),
        cpu=cpu,
        cpu_count=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        omp_wait_policy=os.environ.get('OMP_WAIT_POLICY'))
    if device.type == 'cuda':
        env['gpu'] = torch.cuda.get_device_name(device)
        env['cuda'] = torch.version.cuda
        env['cudnn'] = torch.backends.cudnn.version()
    return env
