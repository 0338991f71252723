# Copyright (c) mmenergykd contributors. All rights reserved.
"""What the digits benchmark runs: methods, epochs, command line."""
import argparse
import os
import os.path as osp
import platform
import warnings
from collections import OrderedDict
from typing import Optional, Sequence

import numpy as np
from mmengine.config import Config

#: The source checkout (or ``mmenergykd/.mim``) holding ``configs/``.
REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
#: The configs folder; the benchmark's configs are paths below it.
CONFIG_DIR = osp.join(REPO, 'configs')

#: The teacher's and the student-alone configs (plain MMPretrain
#: classifiers, in configs/cifarresnet).
TEACHER_CONFIG = 'cifarresnet/cifarresnet20_1xb64_60e_digits.py'
STUDENT_CONFIG = 'cifarresnet/cifarresnet8_1xb64_30e_digits.py'


def _distill(method: str, folder: Optional[str] = None) -> str:
    """A digits distillation config in its method's folder."""
    return (f'{folder or method}/{method}_cifarresnet20_cifarresnet8_1xb64_'
            '30e_digits.py')


# name -> (config file below configs/, label in the table and plots)
METHODS = OrderedDict([
    ('student', (STUDENT_CONFIG, 'Student alone')),
    ('kd', (_distill('kd'), 'KD (T=4)')),
    ('dkd', (_distill('dkd'), 'DKD')),
    ('energykd', (_distill('energykd'), 'Energy KD, paper dir. (6/4/2)')),
    ('energykd_release', (_distill('energykd-release', 'energykd'),
                          'Energy KD, release dir. (2/4/6)')),
    ('energydkd', (_distill('energydkd'), 'Energy DKD (6/4/2)')),
    ('kd_heda', (_distill('kd-heda'), 'KD + HE-DA')),
    ('energykd_heda', (_distill('energykd-heda'), 'Energy KD + HE-DA')),
    ('kd_random_mix', (_distill('kd-randommix', 'kd-heda'),
                       'KD + CutMix on a random subset (control)')),
])

#: The methods of the default setting.
DEFAULT_METHODS = OrderedDict(METHODS)


def _distill_vit(method: str) -> str:
    folder = 'deit' if method == 'deit' else method
    return f'{folder}/{method}_cifarresnet20_vit-digits_1xb64_30e_digits.py'


#: The heterogeneous setting (--heterogeneous): a small ViT with a
#: distillation token, at its own normalisation and size ([-1, 1], 32 px),
#: learns from the digits CNN teacher at the teacher's own (the set's mean /
#: std, 16 px): the teacher input adapter and the distillation-token student
#: on real data. The keys 'student' and 'kd' keep their roles (references of
#: the paired comparisons).
HETEROGENEOUS_METHODS = OrderedDict([
    ('student', ('deit/vit-digits_1xb64_30e_digits.py', 'ViT alone')),
    ('deit', (_distill_vit('deit'), 'Hard dist. (DeiT)')),
    ('kd', (_distill_vit('kd'), 'KD (T=4), dist. tok.')),
    ('energykd', (_distill_vit('energykd'), 'Energy KD, dist. tok.')),
])
#: The environment variable naming the setting, read by every process
#: (worker processes are spawned and import this module afresh).
SETTING_ENV = 'MMENERGYKD_DIGITS_SETTING'


def use_setting(name: str) -> None:
    """Make ``METHODS`` the table of setting ``name`` (``'default'`` or
    ``'heterogeneous'``), in place (every module holds the same dict), in
    this process and the worker processes it starts."""
    table = HETEROGENEOUS_METHODS if name == 'heterogeneous' else \
        DEFAULT_METHODS
    os.environ[SETTING_ENV] = name
    METHODS.clear()
    METHODS.update(table)


if os.environ.get(SETTING_ENV) == 'heterogeneous':
    use_setting('heterogeneous')

# The default run follows the configs (train_cfg.max_epochs of the student's
# and the teacher's config); --quick shortens it to these:
QUICK_EPOCHS = 12
QUICK_TEACHER_EPOCHS = 15
#: Seeds per method of the default run (--quick: 1).
DEFAULT_SEEDS = 10
#: Head / tail ratio of the long-tailed training split (--long-tailed): the
#: tail digit keeps 4 training images, the head 87.
DEFAULT_IMBALANCE = 20.0
#: --long-tailed trains on 292 images instead of 898: twice the epochs
#: (300 student steps instead of 450; the teacher 600 instead of 900), or
#: the students stop far from converged (39 % after 30 epochs, seed 0).
LT_EPOCHS = 60
LT_TEACHER_EPOCHS = 120
#: Evaluations per run (every ceil(epochs / 10) epochs and at the end): one
#: costs about as much as 9 training steps (899 images through MMPretrain's
#: pipeline, head and metric), so 30 of them took a quarter of a run; the
#: training is the same whatever the number (see --plain).
DEFAULT_EVALUATIONS = 10
GROUP_NAMES = ('low', 'mid', 'high')
CLASS_GROUP_NAMES = ('head', 'medium', 'tail')
SMOKE_NOTE = ('SMOKE TEST (--quick): one seed, shortened schedules; these '
              'numbers check that everything runs and say nothing about the '
              'methods')
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
    kd_random_mix=3,
    deit=2)


def config_epochs(config: str) -> int:
    """``train_cfg.max_epochs`` of a config (a path below configs/)."""
    return int(
        Config.fromfile(osp.join(CONFIG_DIR, config)).train_cfg.max_epochs)


def energy_settings() -> dict:
    """The energy temperature and group ratios of the Energy KD configs
    (shared by every Energy KD config) and HE-DA's ratio."""
    base = Config.fromfile(osp.join(CONFIG_DIR, METHODS['energykd'][0]))
    loss_cfg = base.model.distill_losses.loss_energykd
    heda = Config.fromfile(
        osp.join(CONFIG_DIR, DEFAULT_METHODS['energykd_heda'][0]))
    return dict(
        temperature=float(loss_cfg.energy_temperature),
        low_ratio=float(loss_cfg.low_ratio),
        high_ratio=float(loss_cfg.high_ratio),
        heda_ratio=float(heda.custom_hooks[1].high_ratio))


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--seeds',
        type=int,
        default=None,
        help=f'number of seeds per method (default {DEFAULT_SEEDS}; 1 with '
        '--quick)')
    parser.add_argument(
        '--quick',
        action='store_true',
        help=f'one seed, {QUICK_EPOCHS} student / {QUICK_TEACHER_EPOCHS} '
        'teacher epochs (a few minutes)')
    parser.add_argument(
        '--long-tailed',
        action='store_true',
        help='Digits-LT: train teacher and students on a long-tailed '
        'training split (exponential profile as CIFAR-100-LT; the held-out '
        'split stays balanced); adds accuracy by class group (head / medium '
        '/ tail)')
    parser.add_argument(
        '--imbalance-ratio',
        type=float,
        default=DEFAULT_IMBALANCE,
        help='head / tail class size of --long-tailed (default '
        f'{DEFAULT_IMBALANCE:g}: 87 down to 4 images per class)')

    parser.add_argument(
        '--work-dir',
        default=None,
        help='where runs, results.json and the plots go (default '
        'work_dirs/digits_benchmark, with _lt for --long-tailed and _quick '
        'for --quick)')
    parser.add_argument(
        '--methods',
        default=None,
        help='comma-separated subset of: ' + ', '.join(METHODS) +
        ' (--heterogeneous: ' + ', '.join(HETEROGENEOUS_METHODS) + ')')
    parser.add_argument(
        '--heterogeneous',
        action='store_true',
        help='the heterogeneous setting: a small ViT student with a '
        'distillation token at its own normalisation and input size learns '
        'from the digits CNN teacher at the teacher\'s own; student alone, '
        'hard distillation (DeiT), KD and Energy KD on the distillation '
        'token (work dir work_dirs/digits_benchmark_hetero)')
    parser.add_argument(
        '--epochs',
        type=int,
        default=None,
        help=f'student epochs (default: configs/{STUDENT_CONFIG}; '
        f'--long-tailed {LT_EPOCHS}; --quick {QUICK_EPOCHS})')
    parser.add_argument(
        '--teacher-epochs',
        type=int,
        default=None,
        help=f'teacher epochs (default: configs/{TEACHER_CONFIG}; '
        f'--long-tailed {LT_TEACHER_EPOCHS}; --quick {QUICK_TEACHER_EPOCHS})')
    parser.add_argument(
        '--teacher-ckpt',
        default=None,
        help='use this trained teacher checkpoint instead of training one')
    parser.add_argument(
        '--first-seed',
        type=int,
        default=0,
        help='seeds are first-seed, first-seed + 1, ... (default 0)')


def _add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that change how the runs are made, not what they
    train."""
    parser.add_argument(
        '--no-bank',
        action='store_true',
        help='run the live teacher in every step instead of reading its '
        'logits from a teacher bank built once')
    parser.add_argument(
        '--plain',
        action='store_true',
        help='the plain pipeline, to check that the speed-ups change no '
        'result: the live teacher in every step (as --no-bank), MMEngine\'s '
        'serialized dataset storage, yapf-formatted configs and an '
        'evaluation after every epoch')
    parser.add_argument(
        '--check-against',
        default=None,
        metavar='RESULTS_JSON',
        help='compare every run with the same method and seed in another '
        "benchmark's results.json (e.g. a --plain run against the default "
        'run): last top-1, which images are right, the accuracies at common '
        'epochs, the energy thresholds')
    parser.add_argument(
        '--evaluations',
        type=int,
        default=None,
        help='evaluations on the held-out split per run: every ceil(epochs '
        f'/ N) epochs and at the end (default {DEFAULT_EVALUATIONS}; '
        '--plain: every epoch)')
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


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The command line of ``tools/benchmark_digits.py``."""
    parser = argparse.ArgumentParser(
        description='Teacher once, then every method x seeds on sklearn '
        'digits; prints a markdown table, writes results.json and plots.')
    _add_arguments(parser)
    _add_pipeline_arguments(parser)
    args = parser.parse_args(argv)
    use_setting('heterogeneous' if args.heterogeneous else 'default')
    if args.methods is None:
        args.methods = ','.join(METHODS)
    if args.seeds is None:
        args.seeds = 1 if args.quick else DEFAULT_SEEDS
    if args.work_dir is None:
        # a --quick run keeps its shortened teacher in its own work dir
        args.work_dir = 'work_dirs/digits_benchmark' + (
            '_hetero' if args.heterogeneous else
            '') + ('_lt' if args.long_tailed else '') + ('_quick'
                                                         if args.quick else '')
    if args.imbalance_ratio < 1:
        parser.error('--imbalance-ratio must be >= 1 (head / tail class '
                     'size)')
    if args.epochs is None:
        args.epochs = QUICK_EPOCHS if args.quick else LT_EPOCHS \
            if args.long_tailed else config_epochs(STUDENT_CONFIG)
    if args.teacher_epochs is None:
        args.teacher_epochs = QUICK_TEACHER_EPOCHS if args.quick else \
            LT_TEACHER_EPOCHS if args.long_tailed else \
            config_epochs(TEACHER_CONFIG)
    if args.check_against and not osp.isfile(args.check_against):
        parser.error(f'--check-against {args.check_against}: no such file '
                     '(give the results.json of an earlier run)')
    if args.plain and args.evaluations is not None:
        parser.error('--plain evaluates after every epoch: drop '
                     '--evaluations')
    if args.plain:
        args.no_bank = True
        args.evaluations = args.epochs
    elif args.evaluations is None:
        args.evaluations = DEFAULT_EVALUATIONS
    methods = [m.strip() for m in args.methods.split(',') if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        parser.error(f'unknown methods {unknown}; choose from '
                     f'{list(METHODS)}')
    args.methods = methods
    if min(args.seeds, args.epochs, args.teacher_epochs, args.workers,
           args.threads, args.evaluations) < 1:
        parser.error('--seeds, --epochs, --teacher-epochs, --workers, '
                     '--threads and --evaluations must be >= 1')
    return args


def run_kind(args: argparse.Namespace) -> str:
    """The kind of run that trains the teacher, stored in its meta.

    Returns:
        str: ``'quick'``, ``'long-tailed'``, ``'custom'`` (other teacher
        epochs than its config's) or ``'full'``: the teacher config's own
        recipe, the one teacher the digits configs distil from.
    """
    if args.quick:
        return 'quick'
    if args.long_tailed:
        return 'long-tailed'
    if args.teacher_epochs != config_epochs(TEACHER_CONFIG):
        return 'custom'
    return 'full'


def val_interval(args: argparse.Namespace) -> int:
    """Epochs between two evaluations of a run (it also ends with one)."""
    return -(-args.epochs // args.evaluations)


def imbalance(args: argparse.Namespace) -> Optional[float]:
    """The long-tailed split's imbalance ratio, or None (balanced)."""
    return args.imbalance_ratio if args.long_tailed else None


def log(msg: str) -> None:
    """Print a progress line at once."""
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
