# Copyright (c) mmenergykd contributors. All rights reserved.
"""Benchmark every method of mmenergykd on real data: sklearn's digits.

Trains the teacher once, then each method (student alone, KD, DKD, Energy KD
in both temperature directions, Energy DKD, KD + HE-DA, Energy KD + HE-DA,
and a control: KD + the same CutMix on a random subset of the same size)
for several seeds, each in its own in-process MMEngine Runner, and writes
into the work dir:

- ``results.json``: every number (per run, per epoch, per energy group);
- ``results.md``: the markdown table that is also printed;
- ``accuracy.png``, ``energy_hist.png``, ``energy_groups.png``.

Nothing is downloaded: the digits ship with scikit-learn.

Usage::

    pip install ".[lite,tests]" && python tools/benchmark_digits.py
    python tools/benchmark_digits.py --quick            # 1 seed, fewer epochs
    python tools/benchmark_digits.py --methods student,kd --seeds 2
"""
import argparse
import copy
import datetime
import json
import multiprocessing
import os
import os.path as osp
import platform
import sys
import time
import warnings
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Dict, List, Optional, Sequence

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# Use the repository's package and configs even when an older copy of
# mmenergykd is installed in site-packages.
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402

CONFIG_DIR = osp.join(REPO, 'configs', 'digits')

# name -> (config file, label in the table and plots)
METHODS = OrderedDict([
    ('student', ('student.py', 'Student alone')),
    ('kd', ('kd.py', 'KD (T=4)')),
    ('dkd', ('dkd.py', 'DKD')),
    ('energykd', ('energykd.py', 'Energy KD, paper dir. (6/4/2)')),
    ('energykd_release', ('energykd_release.py',
                          'Energy KD, release dir. (2/4/6)')),
    ('energydkd', ('energydkd.py', 'Energy DKD (6/4/2)')),
    ('kd_heda', ('kd_heda.py', 'KD + HE-DA')),
    ('energykd_heda', ('energykd_heda.py', 'Energy KD + HE-DA')),
    ('kd_random_mix', ('kd_random_mix.py',
                       'KD + CutMix on a random subset (control)')),
])

# The default run follows the configs (train_cfg.max_epochs of student.py
# and teacher.py); --quick shortens it to these:
QUICK_EPOCHS = 12
QUICK_TEACHER_EPOCHS = 15
GROUP_NAMES = ('low', 'mid', 'high')
# Relative cost of a run (HE-DA adds a forward / backward on the mixed half
# of each batch), used to schedule the runs.
COST = dict(
    student=1,
    kd=2,
    dkd=2,
    energykd=2,
    energykd_release=2,
    energydkd=2,
    kd_heda=3,
    energykd_heda=3,
    kd_random_mix=3)


def config_epochs(config: str) -> int:
    """``train_cfg.max_epochs`` of a config in configs/digits."""
    return int(
        Config.fromfile(osp.join(CONFIG_DIR, config)).train_cfg.max_epochs)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Teacher once, then every method x seeds on sklearn '
        'digits; prints a markdown table, writes results.json and plots.')
    parser.add_argument(
        '--seeds',
        type=int,
        default=None,
        help='number of seeds per method (default 3; 1 with --quick)')
    parser.add_argument(
        '--quick',
        action='store_true',
        help=f'one seed, {QUICK_EPOCHS} student / {QUICK_TEACHER_EPOCHS} '
        'teacher epochs (a few minutes)')
    parser.add_argument(
        '--work-dir',
        default='work_dirs/digits_benchmark',
        help='where runs, results.json and the plots go')
    parser.add_argument(
        '--methods',
        default=','.join(METHODS),
        help='comma-separated subset of: ' + ', '.join(METHODS))
    parser.add_argument(
        '--epochs',
        type=int,
        default=None,
        help='student epochs (default: configs/digits/student.py, quick '
        f'{QUICK_EPOCHS})')
    parser.add_argument(
        '--teacher-epochs',
        type=int,
        default=None,
        help='teacher epochs (default: configs/digits/teacher.py, quick '
        f'{QUICK_TEACHER_EPOCHS})')
    parser.add_argument(
        '--teacher-ckpt',
        default=None,
        help='use this trained teacher checkpoint instead of training one')
    parser.add_argument(
        '--first-seed',
        type=int,
        default=0,
        help='seeds are first-seed, first-seed + 1, ... (default 0)')
    parser.add_argument(
        '--workers',
        type=int,
        default=min(2,
                    os.cpu_count() or 1),
        help='runs trained at the same time, each in its own process '
        '(default: 2, or 1 on a 1-core machine)')
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch threads per process (default 1: these networks are too '
        'small to gain from more, and several threads per process slow '
        'down badly when the cores are busy)')
    parser.add_argument(
        '--verbose', action='store_true', help="show MMEngine's own INFO logs")
    args = parser.parse_args(argv)
    if args.seeds is None:
        args.seeds = 1 if args.quick else 3
    if args.epochs is None:
        args.epochs = QUICK_EPOCHS if args.quick \
            else config_epochs('student.py')
    if args.teacher_epochs is None:
        args.teacher_epochs = QUICK_TEACHER_EPOCHS if args.quick \
            else config_epochs('teacher.py')
    methods = [m.strip() for m in args.methods.split(',') if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        parser.error(f'unknown methods {unknown}; choose from '
                     f'{list(METHODS)}')
    args.methods = methods
    if min(args.seeds, args.epochs, args.teacher_epochs, args.workers,
           args.threads) < 1:
        parser.error('--seeds, --epochs, --teacher-epochs, --workers and '
                     '--threads must be >= 1')
    return args


def log(msg: str) -> None:
    print(msg, flush=True)


def cpu_model() -> str:
    """The processor's name from /proc/cpuinfo, else platform's."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def import_package() -> None:
    """Import mmenergykd (registers the dataset, models and hooks) and
    scikit-learn, without their import-time warnings (mmcv-lite's missing
    compiled ops; numpy's notes on flushed denormals)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        import sklearn.model_selection  # noqa: F401

        import mmenergykd  # noqa: F401
        np.finfo(np.float32), np.finfo(np.float64)


# ----------------------------------------------------------------------
# runs
class ProgressHook(Hook):
    """Records val top-1 after every epoch and prints progress lines.

    With ``init_seed`` it also reseeds the random generators at the end of
    ``before_run``, right before the Runner initialises the weights: the
    student then starts from the same weights (and sees the same batches
    and crops) for a given seed whatever the method, whereas otherwise the
    teacher's construction inside a distiller would shift the random
    stream. Differences between methods at one seed are then differences
    of the method, not of the initialisation.
    """

    priority = 'VERY_LOW'

    def __init__(self,
                 tag: str,
                 max_epochs: int,
                 print_every: int,
                 init_seed: Optional[int] = None):
        self.tag = tag
        self.max_epochs = max_epochs
        self.print_every = max(1, print_every)
        self.init_seed = init_seed
        self.curve: List[float] = []
        self.start = time.time()

    def before_run(self, runner) -> None:
        if self.init_seed is not None:
            from mmengine.runner import set_random_seed
            set_random_seed(self.init_seed)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if not metrics or 'accuracy/top1' not in metrics:
            return
        acc = float(metrics['accuracy/top1'])
        self.curve.append(acc)
        epoch = len(self.curve)
        if epoch % self.print_every == 0 or epoch == self.max_epochs:
            log(f'  [{self.tag}] epoch {epoch:3d}/{self.max_epochs} '
                f'val top-1 {acc:6.2f}  (best {max(self.curve):6.2f})  '
                f'{time.time() - self.start:6.1f} s')


def build_cfg(config: str, work_dir: str, seed: int, epochs: int,
              teacher_ckpt: Optional[str], verbose: bool, name: str) -> Config:
    """A config of configs/digits set up for one benchmark run."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    own_epochs = cfg.train_cfg.max_epochs
    cfg.work_dir = work_dir
    cfg.experiment_name = name  # unique: Runners share named instances
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=1)
    cfg.param_scheduler = dict(
        type='CosineAnnealingLR', T_max=epochs, by_epoch=True, eta_min=0.0)
    cfg.default_hooks.checkpoint = None  # the benchmark keeps no checkpoints
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=50)
    cfg.log_level = 'INFO' if verbose else 'WARNING'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
    if cfg.model.type == 'EnergyKDDistiller':
        cfg.model.teacher_ckpt = teacher_ckpt
        warmup = cfg.model.get('loss_warmup_epochs') or {}
        # The configs' DKD warm-up is set for their own length; keep the
        # same share of the run (at least one epoch) for other lengths.
        for loss_name, warm in list(warmup.items()):
            warmup[loss_name] = max(1, round(warm * epochs / own_epochs))
    return cfg


def run_one(cfg: Config, tag: str, epochs: int) -> dict:
    """Train one config; return the accuracy curve and the trained model."""
    from mmengine.runner import Runner
    hook = ProgressHook(
        tag,
        epochs,
        print_every=max(1, epochs // 3),
        init_seed=cfg.randomness['seed'])
    start = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        runner = Runner.from_cfg(cfg)
        runner.register_hook(hook)
        runner.train()
    seconds = time.time() - start
    curve = hook.curve
    if len(curve) != epochs:
        raise RuntimeError(f'{tag}: expected {epochs} validation results, '
                           f'got {len(curve)}.')
    best_epoch = int(np.argmax(curve)) + 1
    return dict(
        runner=runner,
        curve=curve,
        best=float(max(curve)),
        best_epoch=best_epoch,
        last=float(curve[-1]),
        seconds=seconds)


@torch.no_grad()
def predict_logits(model: torch.nn.Module,
                   dataset_cfg: dict,
                   batch_size: int = 256) -> torch.Tensor:
    """Logits of ``model`` (eval mode) over a dataset, in dataset order."""
    from mmengine.dataset import pseudo_collate

    from mmenergykd.registry import DATASETS
    dataset = DATASETS.build(copy.deepcopy(dataset_cfg))
    was_training = model.training
    model.eval()
    outputs = []
    for start in range(0, len(dataset), batch_size):
        batch = pseudo_collate([
            dataset[i]
            for i in range(start, min(start + batch_size, len(dataset)))
        ])
        data = model.data_preprocessor(batch, False)
        outputs.append(model(data['inputs'], mode='tensor').float().cpu())
    model.train(was_training)
    return torch.cat(outputs)


def dataset_labels(dataset_cfg: dict) -> np.ndarray:
    from mmenergykd.registry import DATASETS
    cfg = copy.deepcopy(dataset_cfg)
    cfg['pipeline'] = []
    dataset = DATASETS.build(cfg)
    return np.array(
        [dataset.get_data_info(i)['gt_label'] for i in range(len(dataset))])


def _spawn_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes for the runs.

    ``spawn``: a fresh interpreter per worker (forking a process whose
    OpenMP pool is running is unsafe). A worker that dies makes the executor
    raise instead of hanging.
    """
    return ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context('spawn'))


def run_job(job: dict) -> dict:
    """One method x seed run (in this process or a worker process).

    Returns the accuracy curve, best / last top-1, the calibrated energy
    thresholds and which held-out images the final student gets right.
    """
    if job.get('threads'):
        torch.set_num_threads(job['threads'])
    import_package()
    torch.set_flush_denormal(True)
    method, seed = job['method'], job['seed']
    config, label = METHODS[method]
    tag = f'{method} seed {seed}'
    cfg = build_cfg(
        config,
        osp.join(job['work_dir'], method, f'seed{seed}'),
        seed=seed,
        epochs=job['epochs'],
        teacher_ckpt=job['teacher_ckpt'],
        verbose=job['verbose'],
        name=f"{method}_seed{seed}_{job['stamp']}")
    log(f'{label}: seed {seed} started')
    out = run_one(cfg, tag, job['epochs'])
    runner = out.pop('runner')
    val_data = cfg.val_dataloader.dataset.to_dict()
    logits = predict_logits(runner.model, val_data)
    correct = logits.argmax(1).numpy() == dataset_labels(val_data)
    out.update(
        method=method,
        seed=seed,
        thresholds=energy_thresholds(runner.model),
        val_correct_last=correct.astype(int).tolist())
    return out


def energy_thresholds(model: torch.nn.Module) -> Dict[str, List[float]]:
    """Calibrated thresholds of every energy consumer of a distiller."""
    if not hasattr(model, 'energy_consumers'):
        return {}
    out = {}
    for name, consumer in model.energy_consumers().items():
        if not consumer.is_calibrated:
            continue
        low = getattr(consumer, 'low_threshold', None)
        out[name] = [
            float(low) if low is not None else float('-inf'),
            float(consumer.high_threshold)
        ]
    return out


def mean_std(values: Sequence[float]) -> Dict[str, float]:
    arr = np.asarray(values, dtype=float)
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return dict(mean=float(arr.mean()), std=std, n=int(arr.size))


def param_count(model_cfg: dict) -> int:
    from mmengine.registry import DefaultScope

    from mmenergykd.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(copy.deepcopy(model_cfg))
    return int(sum(p.numel() for p in model.parameters()))


def describe_model(model_cfg: dict) -> str:
    """A short name of a configs/digits network, e.g. ``CifarResNet-8 4-8-16``.
    """
    backbone = model_cfg['backbone']
    arch = backbone.get('arch')
    if backbone.get('type') == 'CifarResNet':
        if isinstance(arch, str):
            from mmenergykd.models.backbones import CifarResNet
            depth, widths = CifarResNet.arch_settings[arch]
        else:
            depth, widths = arch['depth'], arch['widths']
        return f"CifarResNet-{depth} " + '-'.join(str(w) for w in widths[1:])
    return f"{backbone.get('type')} {arch or ''}".strip()


# ----------------------------------------------------------------------
# report
def fmt(stat: Dict[str, float], sign: bool = False) -> str:
    mean = f"{stat['mean']:+.2f}" if sign else f"{stat['mean']:.2f}"
    if stat.get('n', 2) < 2:
        return mean  # one seed: no spread to show
    return f"{mean} ± {stat['std']:.2f}"


def markdown_table(results: dict) -> str:
    teacher = results['teacher']
    summary = results['summary']
    seeds = results['settings']['seeds']
    lines = [
        '| Method | Best-epoch top-1 (%) | Last-epoch top-1 (%) | '
        'Gain vs student, best | Gain vs student, last | '
        'Seeds above student (last) | s / run |',
        '|---|---|---|---|---|---|---|',
        f"| Teacher ({teacher['model']}, "
        f"{teacher['params'] / 1e3:.0f} k params, 1 run) | "
        f"{teacher['best']:.2f} | {teacher['last']:.2f} | | | | "
        f"{teacher['seconds']:.0f} |",
    ]
    for name, stat in summary.items():
        gain_b = stat.get('gain_best')
        gain_l = stat.get('gain_last')
        wins = stat.get('wins_last')
        lines.append(
            f"| {stat['label']} | {fmt(stat['best'])} | {fmt(stat['last'])} "
            f"| {'' if gain_b is None else fmt(gain_b, sign=True)} "
            f"| {'' if gain_l is None else fmt(gain_l, sign=True)} "
            f"| {'' if wins is None else f'{wins}/{seeds}'} "
            f"| {stat['seconds']:.0f} |")
    settings = results['settings']
    lines.append('')
    lines.append(
        f"Held-out split: {settings['num_val']} images "
        f"(one image = {100 / settings['num_val']:.2f} points); student "
        f"{settings['student_model']} "
        f"({settings['student_params'] / 1e3:.1f} k params); "
        f"mean ± sample std over {seeds} seed(s) "
        f"({', '.join(str(s) for s in settings['seed_list'])}); "
        f"{settings['epochs']} student epochs, {settings['teacher_epochs']} "
        f"teacher epochs, {settings['img_size']}x{settings['img_size']} "
        f"input. A gain is the mean ± std over seeds of (method - student "
        f"alone) at the same seed; at a given seed every method starts from "
        f"the same student weights and sees the same batches.")
    return '\n'.join(lines)


def group_table(results: dict) -> str:
    groups = results['energy_groups']
    sizes = groups['val_sizes']
    lines = [
        '| Student accuracy (%) on val, by teacher energy | ' +
        ' | '.join(f'{g} (n={sizes[g]})' for g in GROUP_NAMES) + ' |',
        '|---|' + '---|' * len(GROUP_NAMES),
        '| Teacher | ' + ' | '.join(f"{groups['teacher'][g]:.2f}"
                                    for g in GROUP_NAMES) + ' |',
    ]
    for name, per_group in groups['methods'].items():
        label = results['summary'][name]['label']
        lines.append(f'| {label} | ' + ' | '.join(f"{per_group[g]['mean']:.2f}"
                                                  for g in GROUP_NAMES) + ' |')
    return '\n'.join(lines)


def make_plots(results: dict, train_energies: np.ndarray,
               aug_energies: np.ndarray, work_dir: str) -> List[str]:
    """Write accuracy.png, energy_hist.png and energy_groups.png."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    paths = []
    summary = results['summary']
    settings = results['settings']
    names = list(summary)
    labels = [summary[n]['label'] for n in names]
    colors = dict(
        student='#8c8c8c',
        kd='C0',
        dkd='C2',
        energykd='C3',
        energykd_release='C4',
        energydkd='C5',
        kd_heda='C1',
        energykd_heda='C6',
        kd_random_mix='C9')
    teacher_acc = results['teacher']['last']
    student_last = summary.get('student', {}).get('last', {}).get('mean')
    ypos = np.arange(len(names))[::-1]

    # 1. accuracy per method --------------------------------------------
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(names) + 2.2))
    lasts = [summary[n]['last']['mean'] for n in names]
    stds = [summary[n]['last']['std'] for n in names]
    bests = [summary[n]['best']['mean'] for n in names]
    ax.barh(
        ypos,
        lasts,
        0.62,
        xerr=stds,
        capsize=3,
        color=[colors[n] for n in names],
        ecolor='black',
        label='last epoch: mean ± std over seeds')
    seen = []
    for y, n in zip(ypos, names):
        runs = summary[n]['last_runs']
        seen.extend(runs)
        ax.plot(
            runs, [y] * len(runs),
            'o',
            ms=4,
            mfc='white',
            mec='black',
            label=None if len(seen) > len(runs) else 'last epoch, '
            'one seed')
    ax.plot(
        bests,
        ypos,
        'D',
        ms=6,
        color='black',
        mfc='gold',
        label='best epoch: mean over seeds')
    ax.axvline(
        teacher_acc,
        color='black',
        ls='--',
        lw=1.2,
        label=f'teacher {teacher_acc:.2f}')
    if student_last is not None:
        ax.axvline(
            student_last,
            color='#555555',
            ls=':',
            lw=1.4,
            label=f'student alone {student_last:.2f}')
    left = min(seen + [teacher_acc]) - 1.0
    for y, n, last, std, best in zip(ypos, names, lasts, stds, bests):
        text = fmt(summary[n]['last'])
        gain = summary[n].get('gain_last')
        if gain is not None:
            text += f'   ({gain["mean"]:+.2f} vs student)'
        ax.text(100.15, y, text, va='center', fontsize=8.5)
    ax.set_xlim(max(0.0, left), 100.0)
    ax.set_yticks(ypos)
    ax.set_yticklabels(labels)
    ax.set_xlabel('top-1 (%) on the held-out split')
    ax.set_title(
        f"sklearn digits: student {settings['student_model']} distilled "
        f"from teacher {results['teacher']['model']}\n"
        f"{settings['num_val']} held-out images, {settings['seeds']} seed(s),"
        f" {settings['epochs']} epochs; right: last-epoch mean ± std "
        '(gain over the student alone)',
        fontsize=10)
    ax.legend(
        loc='upper center',
        bbox_to_anchor=(0.5, -0.13),
        ncol=3,
        fontsize=8,
        frameon=False)
    fig.tight_layout()
    fig.subplots_adjust(right=0.72)
    path = osp.join(work_dir, 'accuracy.png')
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)

    # 2. teacher energy histogram ---------------------------------------
    groups = results['energy_groups']
    low, high = groups['thresholds']
    heda = groups.get('heda_threshold')
    fig, ax = plt.subplots(figsize=(10, 4.6))
    lo_edge = min(train_energies.min(), aug_energies.min())
    hi_edge = max(train_energies.max(), aug_energies.max())
    bins = np.linspace(lo_edge, hi_edge, 61)
    ax.hist(
        train_energies,
        bins=bins,
        color='#7a9cc6',
        edgecolor='white',
        label='training images as they are')
    ax.hist(
        aug_energies,
        bins=bins,
        histtype='step',
        color='#1f3b73',
        lw=1.5,
        label='the same with the training crops '
        '(what calibration sees)')
    ax.axvspan(lo_edge, low, color='C2', alpha=0.10, lw=0)
    ax.axvspan(high, hi_edge, color='C3', alpha=0.10, lw=0)

    def share(mask: np.ndarray) -> str:
        return f'{100 * mask.mean():.0f} %'

    marks = [
        (low, 'C2', '-', f'Energy KD low threshold {low:.2f}: target '
         f"{100 * settings['low_ratio']:.0f} % below (here "
         f'{share(train_energies < low)} / {share(aug_energies < low)})'),
        (high, 'C3', '-', f'Energy KD high threshold {high:.2f}: target '
         f"{100 * settings['high_ratio']:.0f} % above (here "
         f'{share(train_energies > high)} / '
         f'{share(aug_energies > high)})'),
    ]
    if heda is not None:
        marks.append((heda, 'C1', '--', f'HE-DA threshold {heda:.2f}: target '
                      f"{100 * settings['heda_ratio']:.0f} % above (here "
                      f'{share(train_energies > heda)} / '
                      f'{share(aug_energies > heda)})'))
    for value, color, ls, text in marks:
        ax.axvline(value, color=color, ls=ls, lw=2, label=text)
    ax.set_xlabel('teacher energy  E(x) = -T logsumexp(z / T),  T = '
                  f"{settings['energy_temperature']:g}     "
                  '(left: confident, right: uncertain)')
    ax.set_ylabel('training images')
    source = groups['threshold_source']
    where = ('computed from these energies (no Energy KD run)'
             if source.startswith('computed') else
             f"calibrated in the run '{source}'")
    ax.set_title(
        f'Teacher energy on the {len(train_energies)} training '
        f'images; thresholds {where}\n(shares: images as they '
        'are / with crops; the calibration pass uses the crops '
        'and drops the last partial batch)',
        fontsize=9.5)
    ax.legend(fontsize=8, loc='upper left')
    fig.tight_layout()
    path = osp.join(work_dir, 'energy_hist.png')
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)

    # 3. per-energy-group student accuracy: an annotated table ----------
    sizes = groups['val_sizes']
    rows = ['Teacher'] + labels
    means = np.array([[groups['teacher'][g] for g in GROUP_NAMES]] +
                     [[groups['methods'][n][g]['mean'] for g in GROUP_NAMES]
                      for n in names])
    stds = np.array([[0.0] * len(GROUP_NAMES)] +
                    [[groups['methods'][n][g]['std'] for g in GROUP_NAMES]
                     for n in names])
    # colour: gain over the student alone in the same group (points)
    if 'student' in names:
        base_row = means[1 + names.index('student')]
        gains = means - base_row
        gains[0] = np.nan  # the teacher row stays grey
        limit = max(1.0, float(np.nanmax(np.abs(gains[1:]))))
    else:
        gains = np.full_like(means, np.nan)
        limit = 1.0
    cmap = plt.get_cmap('PiYG').with_extremes(bad='#e6e6e6')
    fig, ax = plt.subplots(figsize=(9.5, 0.5 * len(rows) + 2.3))
    image = ax.imshow(
        np.ma.masked_invalid(gains),
        cmap=cmap,
        vmin=-limit,
        vmax=limit,
        aspect='auto')
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label(
        'points above (green) / below (pink) the student alone '
        'in that group',
        fontsize=8)
    for i in range(means.shape[0]):
        for j in range(means.shape[1]):
            text = f'{means[i, j]:.1f}' if i == 0 else \
                f'{means[i, j]:.1f} ± {stds[i, j]:.1f}'
            dark = i > 0 and abs(np.nan_to_num(gains[i, j])) > 0.6 * limit
            ax.text(
                j,
                i,
                text,
                ha='center',
                va='center',
                fontsize=9,
                color='white' if dark else 'black',
                fontweight='bold' if i == 0 else 'normal')
    ax.axhline(0.5, color='black', lw=1.5)
    ax.set_xticks(range(len(GROUP_NAMES)))
    ax.set_xticklabels([
        f'{g}-energy teacher\n(n = {sizes[g]}\nheld-out images)'
        for g in GROUP_NAMES
    ])
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows)
    ax.set_title(
        'Top-1 (%) on the held-out split by the teacher\'s energy '
        'group (last epoch, mean ± std over seeds)\ngroups by the '
        f'Energy KD thresholds: E < {low:.2f} low, E > {high:.2f} '
        'high',
        fontsize=9.5,
        pad=10)
    fig.tight_layout()
    path = osp.join(work_dir, 'energy_groups.png')
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    return paths


# ----------------------------------------------------------------------
def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the benchmark; returns what it writes to ``results.json``."""
    args = parse_args(argv)
    import_package()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(args.threads)
        # Denormal floats can make CPU convolutions 10-50x slower.
        torch.set_flush_denormal(True)
        return run_benchmark(args, argv)
    finally:
        torch.set_num_threads(threads)
        torch.set_flush_denormal(False)


def run_benchmark(args: argparse.Namespace,
                  argv: Optional[Sequence[str]]) -> dict:
    from mmenergykd.models.losses import energy_score, sorted_index_thresholds

    t_start = time.time()
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    stamp = datetime.datetime.now().strftime('%Y%m%d_%H%M%S')
    log(f'Digits benchmark: methods {args.methods}, seeds {seeds}, '
        f'{args.epochs} student epochs, teacher {args.teacher_epochs} '
        f'epochs; {args.workers} worker process(es), {args.threads} torch '
        f'thread(s) each; work dir {work_dir}')

    # The student-alone runs need no teacher: with more than one worker,
    # one process trains them while this one trains the teacher (the teacher
    # phase would otherwise leave a core idle).
    def job_for(method: str, seed: int, teacher_ckpt: Optional[str]) -> dict:
        return dict(
            method=method,
            seed=seed,
            epochs=args.epochs,
            work_dir=work_dir,
            teacher_ckpt=teacher_ckpt,
            verbose=args.verbose,
            stamp=stamp,
            threads=args.threads)

    early_jobs = [
        job_for(method, seed, None) for method in args.methods
        for seed in seeds if method == 'student'
    ] if args.workers > 1 and not args.teacher_ckpt else []
    early_pool, early_futures = None, []
    if early_jobs:
        early_pool = _spawn_pool(1)
        early_futures = [early_pool.submit(run_job, j) for j in early_jobs]
        log(f'{len(early_jobs)} student-alone run(s) started on 1 worker '
            'process next to the teacher')

    # teacher ------------------------------------------------------------
    teacher_cfg = build_cfg(
        'teacher.py',
        osp.join(work_dir, 'teacher'),
        seed=0,
        epochs=args.teacher_epochs,
        teacher_ckpt=None,
        verbose=args.verbose,
        name=f'teacher_{stamp}')
    base = Config.fromfile(osp.join(CONFIG_DIR, 'energykd.py'))
    val_data = base.val_dataloader.dataset.to_dict()
    train_eval_data = dict(
        base.train_dataloader.dataset.to_dict(), pipeline=base.test_pipeline)
    energy_loss_cfg = base.model.distill_losses.loss_energykd
    e_temp = float(energy_loss_cfg.energy_temperature)
    low_ratio = float(energy_loss_cfg.low_ratio)
    high_ratio = float(energy_loss_cfg.high_ratio)
    heda_ratio = float(
        Config.fromfile(osp.join(
            CONFIG_DIR, 'energykd_heda.py')).custom_hooks[1].high_ratio)

    if args.teacher_ckpt:
        from mmenergykd.models.utils import (build_classifier,
                                             load_teacher_checkpoint)
        teacher_path = osp.abspath(args.teacher_ckpt)
        log(f'Teacher: using {teacher_path} (not trained here)')
        teacher_model = build_classifier(
            dict(
                teacher_cfg.model,
                data_preprocessor=dict(
                    type='ClsDataPreprocessor',
                    **teacher_cfg.data_preprocessor)), 'teacher')
        load_teacher_checkpoint(teacher_model, teacher_path)
        val_logits = predict_logits(teacher_model, val_data)
        val_y = dataset_labels(val_data)
        acc = float((val_logits.argmax(1).numpy() == val_y).mean() * 100)
        teacher = dict(
            best=acc,
            last=acc,
            best_epoch=None,
            curve=[acc],
            seconds=0.0,
            checkpoint=teacher_path,
            trained=False)
    else:
        log(f'Teacher: training for {args.teacher_epochs} epochs (seed 0)')
        out = run_one(teacher_cfg, 'teacher', args.teacher_epochs)
        teacher_model = out.pop('runner').model
        teacher_path = osp.join(work_dir, 'teacher', 'teacher.pth')
        torch.save(
            dict(
                meta=dict(
                    note='digits benchmark teacher',
                    config='configs/digits/teacher.py',
                    epochs=args.teacher_epochs,
                    val_top1=out['last']),
                state_dict=teacher_model.state_dict()), teacher_path)
        teacher = dict(out, checkpoint=teacher_path, trained=True)
        log(f"Teacher: val top-1 {out['last']:.2f} (best {out['best']:.2f} "
            f"at epoch {out['best_epoch']}), {out['seconds']:.0f} s, saved "
            f'{teacher_path}')
    teacher['params'] = param_count(teacher_cfg.model)
    teacher['model'] = describe_model(teacher_cfg.model)
    train_logits = predict_logits(teacher_model, train_eval_data)
    val_logits = predict_logits(teacher_model, val_data)
    train_energies = energy_score(train_logits, e_temp).numpy()
    # the same images through the training transforms (one pass with fixed
    # crops), as the calibration pass sees them
    with torch.random.fork_rng():
        state = np.random.get_state()
        np.random.seed(0)
        aug_logits = predict_logits(teacher_model,
                                    base.train_dataloader.dataset.to_dict())
        np.random.set_state(state)
    aug_energies = energy_score(aug_logits, e_temp).numpy()
    val_energies = energy_score(val_logits, e_temp).numpy()
    val_y = dataset_labels(val_data)
    teacher_val_correct = val_logits.argmax(1).numpy() == val_y
    del teacher_model

    # methods --------------------------------------------------------------
    early = {(j['method'], j['seed']) for j in early_jobs}
    jobs = [
        job_for(method, seed, teacher_path) for method in args.methods
        for seed in seeds if (method, seed) not in early
    ]
    # The HE-DA runs cost the most: start them first so that no worker is
    # left alone with a long run at the end.
    jobs.sort(key=lambda j: -COST[j['method']])
    total = len(jobs) + len(early_jobs)
    done: Dict[tuple, dict] = {}

    def finished(out: dict) -> None:
        done[(out['method'], out['seed'])] = out
        log(f"{METHODS[out['method']][1]}: seed {out['seed']} done: best "
            f"{out['best']:.2f} (epoch {out['best_epoch']}), last "
            f"{out['last']:.2f}, {out['seconds']:.0f} s  [{len(done)}/"
            f'{total} runs, {(time.time() - t_start) / 60:.1f} min]')

    workers = min(args.workers, len(jobs))
    futures = list(early_futures)
    pool = None
    try:
        if workers <= 1:
            for job in jobs:
                finished(run_job(job))
        elif jobs:
            log(f'{len(jobs)} runs on {workers} worker processes '
                f'({args.threads} torch thread(s) each)')
            pool = _spawn_pool(workers)
            futures += [pool.submit(run_job, job) for job in jobs]
        for future in as_completed(futures):
            finished(future.result())
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    finally:
        for executor in (early_pool, pool):
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
    runs: Dict[str, List[dict]] = OrderedDict(
        (method, [done[(method, seed)] for seed in seeds])
        for method in args.methods)

    # thresholds: from the calibrated Energy KD run when there is one ------
    # (the Energy KD configs share T_E and the 0.2 / 0.2 rates; Energy DKD
    # uses 0.1 / 0.1 and is not used here)
    source = None
    thresholds = None
    heda_threshold = None
    for method in sorted(runs, key=lambda m: m != 'energykd'):
        for run in runs[method]:
            pair = run['thresholds'].get('loss_energykd')
            if thresholds is None and pair is not None:
                thresholds, source = pair, f"{method}, seed {run['seed']}"
            pair = run['thresholds'].get('high_energy_augment')
            if heda_threshold is None and pair is not None:
                heda_threshold = pair[1]
    if thresholds is None:
        e = torch.from_numpy(train_energies)
        thresholds = list(sorted_index_thresholds(e, low_ratio, high_ratio))
        source = 'computed here: no Energy KD run in this benchmark'
    if heda_threshold is None:
        heda_threshold = sorted_index_thresholds(
            torch.from_numpy(train_energies), 0.0, heda_ratio)[1]

    val_groups = np.where(val_energies < thresholds[0], 0,
                          np.where(val_energies > thresholds[1], 2, 1))
    sizes = {
        g: int((val_groups == i).sum())
        for i, g in enumerate(GROUP_NAMES)
    }

    def group_acc(correct: np.ndarray) -> Dict[str, float]:
        return {
            g:
            float(100 * correct[val_groups == i].mean())
            if sizes[g] else float('nan')
            for i, g in enumerate(GROUP_NAMES)
        }

    summary: Dict[str, dict] = OrderedDict()
    group_results: Dict[str, dict] = OrderedDict()
    student_runs = {r['seed']: r for r in runs.get('student', [])}
    for method, method_runs in runs.items():
        stat = dict(
            label=METHODS[method][1],
            config=f'configs/digits/{METHODS[method][0]}',
            best=mean_std([r['best'] for r in method_runs]),
            last=mean_std([r['last'] for r in method_runs]),
            best_runs=[r['best'] for r in method_runs],
            last_runs=[r['last'] for r in method_runs],
            best_epochs=[r['best_epoch'] for r in method_runs],
            seconds=float(np.mean([r['seconds'] for r in method_runs])))
        per_seed = [
            group_acc(np.array(r['val_correct_last'], bool))
            for r in method_runs
        ]
        for r, acc in zip(method_runs, per_seed):
            r['group_acc_last'] = acc
        group_results[method] = {
            g: mean_std([a[g] for a in per_seed])
            for g in GROUP_NAMES
        }
        summary[method] = stat
    if 'student' in summary:
        for method, stat in summary.items():
            if method == 'student':
                continue
            for key in ('best', 'last'):
                # per seed: this method minus the student alone of the same
                # seed (same initial weights, batches and crops)
                diffs = [
                    r[key] - student_runs[r['seed']][key] for r in runs[method]
                    if r['seed'] in student_runs
                ]
                stat[f'gain_{key}'] = mean_std(diffs)
            stat['wins_last'] = int(
                sum(r['last'] > student_runs[r['seed']]['last']
                    for r in runs[method] if r['seed'] in student_runs))

    base_cfg = Config.fromfile(osp.join(CONFIG_DIR, 'student.py'))
    results = dict(
        settings=dict(
            command='python tools/benchmark_digits.py ' +
            ' '.join(sys.argv[1:] if argv is None else list(argv)),
            methods=args.methods,
            seeds=len(seeds),
            seed_list=seeds,
            epochs=args.epochs,
            teacher_epochs=args.teacher_epochs,
            quick=args.quick,
            img_size=int(base_cfg.img_size),
            batch_size=int(base_cfg.train_dataloader.batch_size),
            num_train=int(len(train_energies)),
            num_val=int(len(val_y)),
            val_ratio=float(base_cfg.train_dataloader.dataset.val_ratio),
            split_seed=int(base_cfg.train_dataloader.dataset.split_seed),
            student_params=param_count(base_cfg.model),
            student_model=describe_model(base_cfg.model),
            energy_temperature=e_temp,
            low_ratio=low_ratio,
            high_ratio=high_ratio,
            heda_ratio=heda_ratio,
            machine=dict(
                platform=platform.platform(),
                processor=cpu_model(),
                cpu_count=os.cpu_count(),
                torch_threads=torch.get_num_threads(),
                cuda=torch.cuda.is_available(),
                python=platform.python_version(),
                torch=torch.__version__)),
        teacher=teacher,
        summary=summary,
        energy_groups=dict(
            thresholds=[float(t) for t in thresholds],
            threshold_source=source,
            heda_threshold=float(heda_threshold),
            val_sizes=sizes,
            teacher=group_acc(teacher_val_correct),
            methods=group_results,
            train_energy=dict(
                min=float(train_energies.min()),
                max=float(train_energies.max()),
                mean=float(train_energies.mean()),
                share_below_low=float((train_energies < thresholds[0]).mean()),
                share_above_high=float((train_energies
                                        > thresholds[1]).mean())),
            train_energy_with_crops=dict(
                mean=float(aug_energies.mean()),
                share_below_low=float((aug_energies < thresholds[0]).mean()),
                share_above_high=float((aug_energies
                                        > thresholds[1]).mean()))),
        runs=runs,
    )
    results['wall_seconds'] = time.time() - t_start

    table = markdown_table(results)
    groups_md = group_table(results)
    plots = make_plots(results, train_energies, aug_energies, work_dir)
    results['plots'] = [osp.basename(p) for p in plots]
    results['wall_seconds'] = time.time() - t_start
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    machine = results['settings']['machine']
    settings = results['settings']
    md = (f"Command: `{settings['command'].strip()}`\n\n{table}\n\n"
          f"{groups_md}\n\nWall time "
          f"{results['wall_seconds'] / 60:.1f} min on {machine['cpu_count']} "
          f"CPU core(s) ({machine['processor']}; {args.workers} worker "
          f"process(es), {args.threads} torch thread(s) each; torch "
          f"{machine['torch']}, CUDA {'yes' if machine['cuda'] else 'no'}).\n")
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(md)
    log('')
    log(md)
    log(f"Wrote {osp.join(work_dir, 'results.json')}, results.md and "
        f"{', '.join(osp.basename(p) for p in plots)} in {work_dir}")
    return results


if __name__ == '__main__':
    main()
