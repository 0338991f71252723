# Copyright (c) mmenergykd contributors. All rights reserved.
"""Plan training runs, build their command lines, run them on N devices.

A run is one (config, seed) in ``<work_root>/<config name>/seed<k>``. Its
state comes from that folder alone: ``finished`` when the completion
marker is there (written only after ``tools/train.py`` exited 0),
``resume`` when a checkpoint is there (the run was stopped half-way:
``--resume`` continues from the newest complete checkpoint), else ``new``.
"""
import glob
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
import time
from typing import Dict, List, NamedTuple, Sequence

from kit_configs import REPO

MARKER = 'reproduce_done.json'
TRAIN_LOG = 'reproduce_train.log'
TRAIN = osp.join('tools', 'train.py')
DIST_TRAIN = osp.join('tools', 'dist_train.sh')
_PARTITION = '@PARTITION@'  # replaced after quoting


class Job(NamedTuple):
    """One training run: a config trained with one seed."""
    name: str
    config: str
    seed: int
    work_dir: str


def make_jobs(configs: Dict[str, str], seeds: Sequence[int],
              work_root: str) -> List[Job]:
    """One job per config and seed, in config-major order.

    Args:
        configs (dict[str, str]): Config base name -> config file path.
        seeds (Sequence[int]): The seeds.
        work_root (str): Runs go to ``work_root/<name>/seed<k>``.

    Returns:
        list[Job]: The jobs.
    """
    return [
        Job(name, path, int(seed), osp.join(work_root, name,
                                            f'seed{int(seed)}'))
        for name, path in configs.items() for seed in seeds
    ]


def job_state(job: Job) -> str:
    """``'finished'``, ``'resume'`` or ``'new'`` (see the module doc)."""
    if osp.isfile(osp.join(job.work_dir, MARKER)):
        return 'finished'
    if osp.isfile(osp.join(job.work_dir, 'last_checkpoint')) or any(
            not osp.basename(p).startswith('best_')
            for p in glob.glob(osp.join(job.work_dir, '*.pth'))):
        return 'resume'
    return 'new'


def train_args(job: Job, cfg_options: Sequence[str],
               resume: bool) -> List[str]:
    """``tools/train.py``'s arguments after the config for one job.

    The per-run seed comes last so that it wins over ``cfg_options``.
    """
    args = ['--work-dir', job.work_dir]
    if resume:
        args.append('--resume')
    args += ['--cfg-options', *cfg_options, f'randomness.seed={job.seed}']
    return args


def local_command(job: Job, cfg_options: Sequence[str]) -> List[str]:
    """The command that trains ``job`` here (``--resume`` when resumable)."""
    resume = job_state(job) == 'resume'
    return [
        sys.executable,
        osp.join(REPO, TRAIN), job.config,
        *train_args(job, cfg_options, resume)
    ]


def _marker_shell(job: Job) -> str:
    """Shell text writing the completion marker of ``job``."""
    path = shlex.quote(osp.join(job.work_dir, MARKER))
    return f'echo \'{{"exit_code": 0}}\' > {path}'


def remote_command(job: Job,
                   cfg_options: Sequence[str],
                   style: str,
                   partition: str = '${PARTITION}') -> str:
    """A shell line that trains ``job`` elsewhere and marks it done.

    Args:
        job (Job): The run.
        cfg_options (Sequence[str]): Extra ``--cfg-options``.
        style (str): ``'dist'`` (``tools/dist_train.sh CONFIG 1``: one GPU,
            the configs' ``1xb64`` recipe) or ``'slurm'`` (``srun``, one
            task on one GPU, MMEngine's ``slurm`` launcher).
        partition (str): The slurm partition.

    Returns:
        str: The line, run from the repository root. It always passes
        ``--resume`` (``tools/train.py`` starts from scratch when there is
        no checkpoint), and writes the completion marker on success.
    """
    config = osp.relpath(job.config, REPO)
    args = train_args(job, cfg_options, resume=True)
    if style == 'dist':
        cmd = ['bash', DIST_TRAIN, config, '1', *args]
    elif style == 'slurm':
        cmd = [
            'srun', '-p', _PARTITION, f'--job-name={job.name}_s{job.seed}',
            '--gres=gpu:1', '--ntasks=1', '--ntasks-per-node=1',
            '--cpus-per-task=5', '--kill-on-bad-exit=1', 'python', '-u', TRAIN,
            config, '--launcher', 'slurm', *args
        ]
    else:
        raise ValueError(f'--print-commands {style!r}: use dist or slurm.')
    line = ' '.join(shlex.quote(c) for c in cmd)
    # double quotes: a partition such as ${PARTITION} expands in the shell
    line = line.replace(_PARTITION, f'"{partition}"')
    return f'{line} && {_marker_shell(job)}'


def device_env(slot: int, gpus: int) -> Dict[str, str]:
    """The environment of a process on device slot ``slot``.

    ``gpus=0`` hides every GPU (CPU training); otherwise slot ``i`` sees the
    ``i``-th device of the caller's ``CUDA_VISIBLE_DEVICES`` (or GPU ``i``).
    """
    env = dict(os.environ)
    if gpus == 0:
        env['CUDA_VISIBLE_DEVICES'] = ''
        return env
    visible = [
        d for d in os.environ.get('CUDA_VISIBLE_DEVICES', '').split(',')
        if d.strip()
    ]
    if visible and len(visible) < gpus:
        raise ValueError(f'--gpus {gpus}: CUDA_VISIBLE_DEVICES lists only '
                         f'{len(visible)} device(s) ({",".join(visible)}). '
                         'Lower --gpus or widen CUDA_VISIBLE_DEVICES.')
    env['CUDA_VISIBLE_DEVICES'] = visible[slot] if visible else str(slot)
    return env


def _write_marker(job: Job, command: List[str], seconds: float) -> None:
    """Write the completion marker atomically (after exit code 0)."""
    record = dict(
        exit_code=0,
        config=job.config,
        seed=job.seed,
        seconds=round(seconds, 1),
        finished_at=time.strftime('%Y-%m-%dT%H:%M:%S%z'),
        command=command)
    tmp = osp.join(job.work_dir, MARKER + '.tmp')
    with open(tmp, 'w') as f:
        json.dump(record, f, indent=2)
    os.replace(tmp, osp.join(job.work_dir, MARKER))


class _Running(NamedTuple):
    """A training process the kit started, with its job and log."""
    job: Job
    proc: subprocess.Popen
    command: List[str]
    start: float
    log: object


def _start(job: Job, cfg_options: Sequence[str], slot: int,
           gpus: int) -> _Running:
    """Start ``job``'s training on device slot ``slot``, output to its log."""
    os.makedirs(job.work_dir, exist_ok=True)
    command = local_command(job, cfg_options)
    log = open(osp.join(job.work_dir, TRAIN_LOG), 'a')
    log.write(f'\n$ {shlex.join(command)}\n')
    log.flush()
    proc = subprocess.Popen(
        command,
        cwd=REPO,
        env=device_env(slot, gpus),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True)
    device = 'cpu' if gpus == 0 else f'device slot {slot}'
    print(
        f'[start] {job.name} seed {job.seed} on {device} '
        f'({"resume" if "--resume" in command else "new"}); log '
        f'{osp.join(job.work_dir, TRAIN_LOG)}',
        flush=True)
    return _Running(job, proc, command, time.time(), log)


def _finish(run: _Running, failures: List[Job]) -> None:
    """Mark a run that exited 0 as done; report a failed one."""
    run.log.close()
    seconds = time.time() - run.start
    job = run.job
    if run.proc.returncode == 0:
        _write_marker(job, run.command, seconds)
        print(
            f'[done] {job.name} seed {job.seed} ({seconds:.0f} s)', flush=True)
        return
    failures.append(job)
    with open(osp.join(job.work_dir, TRAIN_LOG)) as f:
        tail = f.read()[-3000:]
    print(
        f'[failed] {job.name} seed {job.seed}: exit code '
        f'{run.proc.returncode}; last lines of the log:\n{tail}',
        file=sys.stderr,
        flush=True)


def run_jobs(jobs: Sequence[Job],
             cfg_options: Sequence[str],
             gpus: int,
             poll_s: float = 0.5) -> List[Job]:
    """Train the jobs, at most ``max(gpus, 1)`` at a time, one per device.

    Finished jobs are skipped; the others start in order on the first free
    device slot. On an interruption (Ctrl-C, SIGTERM as KeyboardInterrupt)
    the running trainings are stopped; their checkpoints let the next call
    resume them.

    Args:
        jobs (Sequence[Job]): The runs.
        cfg_options (Sequence[str]): Extra ``--cfg-options`` for every run.
        gpus (int): Number of GPUs; 0 trains on the CPU, one run at a time.
        poll_s (float): Seconds between checks of the running processes.

    Returns:
        list[Job]: The jobs whose training exited with an error.
    """
    pending = [j for j in jobs if job_state(j) != 'finished']
    for job in jobs:
        if job not in pending:
            print(f'[skip] {job.name} seed {job.seed}: finished', flush=True)
    running: Dict[int, _Running] = {}
    failures: List[Job] = []
    try:
        while pending or running:
            for slot in range(max(gpus, 1)):
                if slot not in running and pending:
                    running[slot] = _start(
                        pending.pop(0), cfg_options, slot, gpus)
            time.sleep(poll_s)
            for slot, run in list(running.items()):
                if run.proc.poll() is not None:
                    _finish(run, failures)
                    del running[slot]
    finally:
        for run in running.values():
            run.proc.terminate()
        for run in running.values():
            run.proc.wait()
            run.log.close()
    return failures
