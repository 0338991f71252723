# Copyright (c) mmenergykd contributors. All rights reserved.
"""What a teacher bank must match, read from a training config."""
import copy
import hashlib
import json
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.config import Config, ConfigDict

from mmenergykd.models.utils import resolve_model_cfg, teacher_input_record

__all__ = [
    'file_sha256', 'canonical_pipeline', 'teacher_checkpoint_of',
    'data_preprocessor_of', 'expect_from_config'
]

# The recording transforms (mmenergykd.datasets.transforms) stand for the
# plain ones: a bank built from either pipeline fits both.
_VIEW_NAMES = {
    'ViewRandomCrop': 'RandomCrop',
    'ViewRandomFlip': 'RandomFlip',
    'ViewRandomResizedCrop': 'RandomResizedCrop'
}
# Settings of the recording transforms that the bank's header holds.
_VIEW_SETTINGS = ('num_crops', 'view_seed')
# Dataset settings that do not change what the dataset holds.
_NOT_IDENTITY = ('pipeline', 'serialize_data', 'lazy_init', 'max_refetch',
                 'test_mode')


def _plain(obj: object, drop: Sequence[str] = ()) -> object:
    """``obj`` as JSON gives it back (tuples -> lists, ConfigDict -> dict),
    in the form a bank compares: without the registry scopes (the
    ``_scope_`` MMEngine adds to the dicts of a config inherited through
    ``package::``, and a ``scope.`` prefix of ``type``), which name where a
    class is looked up, not what it computes; ``drop``: keys removed at
    every level."""
    if isinstance(obj, ConfigDict):
        obj = obj.to_dict()
    return _unscoped(
        json.loads(json.dumps(obj, default=str, sort_keys=True)),
        ('_scope_', ) + tuple(drop))


def _unscoped(obj: object, drop: Sequence[str]) -> object:
    if isinstance(obj, list):
        return [_unscoped(v, drop) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: _unscoped(v, drop) for k, v in obj.items() if k not in drop}
    if isinstance(out.get('type'), str):
        out['type'] = out['type'].split('.')[-1]
    return out


def file_sha256(path: str, block: int = 1 << 22) -> str:
    """Hex SHA-256 of the file ``path``."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(block), b''):
            digest.update(chunk)
    return digest.hexdigest()


def canonical_pipeline(pipeline: Sequence[dict]) -> List[dict]:
    """The pipeline's transforms and settings as a bank records them:
    scopes dropped, recording transforms named as the plain ones,
    ``PackInputs`` without ``meta_keys`` (metadata only)."""
    out = []
    for transform in _plain(list(pipeline)):
        name = str(transform.get('type', '')).split('.')[-1]
        transform['type'] = _VIEW_NAMES.get(name, name)
        if name in _VIEW_NAMES:
            for key in _VIEW_SETTINGS:
                transform.pop(key, None)
        if transform['type'] == 'PackInputs':
            transform.pop('meta_keys', None)
        out.append(transform)
    return out


def teacher_checkpoint_of(model_cfg: dict) -> str:
    """The local teacher checkpoint of a distiller config (``teacher_ckpt``
    or the teacher's ``init_cfg=dict(type='Pretrained')``)."""
    ckpt = model_cfg.get('teacher_ckpt')
    if ckpt is None:
        init_cfg = resolve_model_cfg(model_cfg['teacher'],
                                     'teacher').get('init_cfg')
        for item in init_cfg if isinstance(init_cfg, list) else [init_cfg]:
            if isinstance(item, dict) and item.get('type') == 'Pretrained':
                ckpt = item.get('checkpoint')
    if not isinstance(ckpt, str) or not ckpt:
        raise ValueError('A teacher bank is made from a trained teacher: set '
                         '`model.teacher_ckpt` to its checkpoint file.')
    path = osp.expanduser(
        ckpt[len('file://'):] if ckpt.startswith('file://') else ckpt)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'`model.teacher_ckpt` {ckpt!r} is not a local file; a teacher '
            'bank fingerprints the checkpoint file (download it first and '
            'set `model.teacher_ckpt` to the local path).')
    return path


def data_preprocessor_of(cfg: Config) -> dict:
    """The distiller's data preprocessor config: ``model.data_preprocessor``,
    else the config's ``data_preprocessor`` (the Runner merges it), else
    the student's; type ``ClsDataPreprocessor`` (MMPretrain's) by default,
    scopes dropped."""
    model_cfg = cfg.model
    found = model_cfg.get('data_preprocessor') or cfg.get(
        'data_preprocessor') or resolve_model_cfg(
            model_cfg['student'], 'student').get('data_preprocessor') or {}
    found = copy.deepcopy(dict(found))
    found.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
    return _plain(found)


def expect_from_config(cfg: Config,
                       dataloader: str = 'train_dataloader',
                       dataset_len: Optional[int] = None) -> dict:
    """What a teacher bank for ``cfg`` must hold, for
    :meth:`TeacherBank.open`.

    Args:
        cfg (Config): A distiller config (``model.teacher``,
            ``model.teacher_ckpt``) with a ``train_dataloader``.
        dataloader (str): The dataloader whose dataset the bank covers.
        dataset_len (int, optional): The dataset's length, when known.

    Returns:
        dict: ``teacher`` (``checkpoint_sha256``, ``model``), ``dataset``,
        ``pipeline``, ``data_preprocessor`` (compared with the bank's
        header), ``teacher_input`` when the teacher does not get the
        student's batches unchanged (its own preprocessing and size; a bank
        built before teachers had their own has none and is refused for
        such a teacher), optionally ``dataset_len``, and ``_config`` (the
        config file, for messages).
    """
    dataset = copy.deepcopy(cfg[dataloader]['dataset'])
    pipeline = dataset.get('pipeline', [])
    expect = dict(
        teacher=dict(
            checkpoint_sha256=file_sha256(teacher_checkpoint_of(cfg.model)),
            # init_cfg: how weights start, overwritten by the checkpoint
            # (its SHA-256 above stands for the weights)
            model=_plain(
                resolve_model_cfg(cfg.model['teacher'], 'teacher'),
                drop=('init_cfg', ))),
        dataset=_plain({
            k: v
            for k, v in dict(dataset).items() if k not in _NOT_IDENTITY
        }),
        pipeline=canonical_pipeline(pipeline),
        data_preprocessor=data_preprocessor_of(cfg),
        _config=getattr(cfg, 'filename', None) or 'CONFIG')
    teacher_input = teacher_input_record(cfg.model['teacher'],
                                         expect['data_preprocessor'],
                                         cfg.model.get('teacher_input_size'),
                                         pipeline)
    if teacher_input is not None:
        expect['teacher_input'] = teacher_input
    if dataset_len is not None:
        expect['dataset_len'] = int(dataset_len)
    return expect
