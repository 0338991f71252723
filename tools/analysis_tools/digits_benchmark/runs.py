# Copyright (c) mmenergykd contributors. All rights reserved.
"""One training run of the digits benchmark (teacher, or method x seed)."""
import copy
import multiprocessing
import os.path as osp
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from .check import evaluated_epochs
from .settings import CONFIG_DIR, METHODS, import_package, log
from .timing import TimingHook


class ProgressHook(Hook):
    """Records val top-1 after every evaluation and prints progress lines.

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
        self.last_correct: List[bool] = []
        self._correct: List[bool] = []
        self.start = time.time()

    def before_run(self, runner) -> None:
        if self.init_seed is not None:
            from mmengine.runner import set_random_seed
            set_random_seed(self.init_seed)

    def before_val_epoch(self, runner) -> None:
        self._correct: List[bool] = []

    def after_val_iter(self,
                       runner,
                       batch_idx: int,
                       data_batch=None,
                       outputs=None) -> None:
        # which held-out images are right (the val loader does not shuffle:
        # dataset order), so that the final student needs no extra pass
        for sample in outputs or []:
            self._correct.append(
                int(sample.pred_label.item()) == int(sample.gt_label.item()))

    def after_val_epoch(self, runner, metrics=None) -> None:
        if not metrics or 'accuracy/top1' not in metrics:
            return
        acc = float(metrics['accuracy/top1'])
        self.curve.append(acc)
        self.last_correct = list(self._correct)
        epoch = runner.epoch
        if epoch % self.print_every == 0 or epoch == self.max_epochs:
            log(f'  [{self.tag}] epoch {epoch:3d}/{self.max_epochs} '
                f'val top-1 {acc:6.2f}  (best {max(self.curve):6.2f})  '
                f'{time.time() - self.start:6.1f} s')


def build_cfg(config: str,
              work_dir: str,
              seed: int,
              epochs: int,
              teacher_ckpt: Optional[str],
              verbose: bool,
              name: str,
              imbalance_ratio: Optional[float] = None,
              teacher_bank: Optional[str] = None,
              val_interval: int = 1,
              plain: bool = False) -> Config:
    """A digits config (a path below configs/) set up for one benchmark run
    (``imbalance_ratio``: the long-tailed training split; ``teacher_bank``:
    the teacher's logits from this bank instead of a live teacher;
    ``val_interval``: evaluate every that many epochs and at the end;
    ``plain``: without the speed-ups that change no result, i.e. with
    yapf-formatted configs and MMEngine's serialized dataset storage)."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    if not plain:
        # The Runner formats the config four times (log, dump, visualizer,
        # message hub): yapf took about three seconds of each short run.
        # (MMEngine 0.10's fromfile drops format_python_code for configs
        # without lazy imports, hence the second Config.)
        cfg = Config(
            cfg.to_dict(),
            cfg_text=cfg.text,
            filename=cfg.filename,
            format_python_code=False)
    if imbalance_ratio is not None:
        cfg.train_dataloader.dataset.imbalance_ratio = imbalance_ratio
    own_epochs = cfg.train_cfg.max_epochs
    cfg.work_dir = work_dir
    cfg.experiment_name = name  # unique: Runners share named instances
    cfg.randomness = dict(seed=seed, deterministic=False)
    # The configs' own loop (ResumableEpochBasedTrainLoop: the global
    # generators are seeded before every batch from (seed, epoch, batch), so
    # a batch's crops never depend on what ran before it, evaluations
    # included); only the length and the evaluation interval change.
    cfg.train_cfg.update(max_epochs=epochs, val_interval=val_interval)
    cfg.param_scheduler = dict(
        type='CosineAnnealingLR', T_max=epochs, by_epoch=True, eta_min=0.0)
    cfg.default_hooks.checkpoint = None  # the benchmark keeps no checkpoints
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=50)
    cfg.log_level = 'INFO' if verbose else 'WARNING'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
        # SklearnDigits copies its small in-memory images per sample;
        # MMEngine's default storage pickles them (the plain pipeline)
        cfg[key].dataset.serialize_data = plain
    if cfg.model.type == 'EnergyKDDistiller':
        cfg.model.teacher_ckpt = teacher_ckpt
        warmup = cfg.model.get('loss_warmup_epochs') or {}
        # The configs' DKD warm-up is set for their own length; keep the
        # same share of the run (at least one epoch) for other lengths.
        for loss_name, warm in list(warmup.items()):
            warmup[loss_name] = max(1, round(warm * epochs / own_epochs))
        if teacher_bank is not None:
            # the hook checks the bank against this config and makes the
            # training pipeline record each crop's offset
            cfg.model.teacher_bank = teacher_bank
            cfg.custom_hooks = [dict(type='TeacherBankHook')] + list(
                cfg.get('custom_hooks', []))
    return cfg


def _progress_every(epochs: int, interval: int) -> int:
    """A multiple of the evaluation interval near a third of the run."""
    return interval * max(1, round(epochs / 3 / interval))


def run_one(cfg: Config, tag: str, epochs: int) -> dict:
    """Train one config; return the accuracy curve and the trained model."""
    from mmengine.runner import Runner
    hook = ProgressHook(
        tag,
        epochs,
        # about three progress lines, at epochs that are evaluated
        print_every=_progress_every(epochs, cfg.train_cfg.val_interval),
        init_seed=cfg.randomness['seed'])
    start = time.perf_counter()
    timing = TimingHook(start)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        runner = Runner.from_cfg(cfg)
        runner.register_hook(hook)
        runner.register_hook(timing)
        runner.train()
    seconds = time.perf_counter() - start
    curve = hook.curve
    curve_epochs = evaluated_epochs(epochs, cfg.train_cfg.val_interval)
    if len(curve) != len(curve_epochs):
        raise RuntimeError(f'{tag}: expected {len(curve_epochs)} validation '
                           f'results, got {len(curve)}.')
    return dict(
        runner=runner,
        curve=curve,
        curve_epochs=curve_epochs,
        best=float(max(curve)),
        best_epoch=curve_epochs[int(np.argmax(curve))],
        last=float(curve[-1]),
        seconds=seconds,
        timing=timing.finish(),
        val_correct_last=[int(c) for c in hook.last_correct])


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
    """The labels of a dataset, in dataset order."""
    from mmenergykd.registry import DATASETS
    cfg = copy.deepcopy(dataset_cfg)
    cfg['pipeline'] = []
    dataset = DATASETS.build(cfg)
    return np.array(
        [dataset.get_data_info(i)['gt_label'] for i in range(len(dataset))])


def spawn_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes for the runs.

    ``spawn``: a fresh interpreter per worker (forking a process whose
    OpenMP pool is running is unsafe). A worker that dies makes the executor
    raise instead of hanging.
    """
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context('spawn'),
        # before the worker imports MMEngine (setuptools >= 81 warns there)
        initializer=warnings.filterwarnings,
        initargs=('ignore', 'pkg_resources is deprecated'))


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
        name=f"{method}_seed{seed}_{job['stamp']}",
        imbalance_ratio=job.get('imbalance_ratio'),
        teacher_bank=job.get('teacher_bank') if method != 'student' else None,
        val_interval=job.get('val_interval', 1),
        plain=job.get('plain', False))
    log(f'{label}: seed {seed} started')
    out = run_one(cfg, tag, job['epochs'])
    runner = out.pop('runner')
    if len(out['val_correct_last']) != len(runner.val_dataloader.dataset):
        raise RuntimeError(f'{tag}: the last evaluation saw '
                           f"{len(out['val_correct_last'])} images, the "
                           'held-out split has '
                           f'{len(runner.val_dataloader.dataset)}.')
    out.update(
        method=method, seed=seed, thresholds=energy_thresholds(runner.model))
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


def param_count(model_cfg: dict) -> int:
    """The parameter count of a model config."""
    from mmengine.registry import DefaultScope

    from mmenergykd.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(copy.deepcopy(model_cfg))
    return int(sum(p.numel() for p in model.parameters()))


def describe_model(model_cfg: dict) -> str:
    """A short name of a digits network, e.g. ``CifarResNet-8 4-8-16``.
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
