# Copyright (c) mmenergykd contributors. All rights reserved.
"""Turn a training pipeline config into one that records teacher views."""
import copy
from typing import List, Optional, Sequence

from mmpretrain.datasets.transforms import PackInputs

__all__ = [
    'VIEW_TRANSFORMS', 'DETERMINISTIC_TRANSFORMS', 'VIEW_META_KEYS',
    'recording_pipeline'
]

#: Random transforms with discrete views -> their recording versions.
VIEW_TRANSFORMS = {
    'RandomCrop': 'ViewRandomCrop',
    'RandomFlip': 'ViewRandomFlip',
}
#: Transforms that draw nothing: the same image every time.
DETERMINISTIC_TRANSFORMS = frozenset({
    'LoadImageFromFile', 'PackInputs', 'Resize', 'ResizeEdge', 'CenterCrop',
    'ToPIL', 'ToNumpy', 'Transpose', 'Normalize', 'ImageToTensor'
})
#: What the recording pipeline adds to each data sample's metainfo.
VIEW_META_KEYS = ('teacher_view', 'teacher_num_views')


def _type_name(transform: dict) -> str:
    kind = transform.get('type') if isinstance(transform, dict) else None
    if not isinstance(kind, str):
        raise TypeError(
            'An exact teacher bank needs the training pipeline as a list of '
            "dicts with a string `type` (e.g. dict(type='RandomCrop', ...)),"
            f' got {transform!r}.')
    return kind.split('.')[-1]


def recording_pipeline(pipeline: Sequence[dict],
                       num_crops: Optional[int] = None,
                       view_seed: int = 0) -> List[dict]:
    """The training pipeline with its random transforms recording views.

    ``RandomCrop`` -> ``ViewRandomCrop`` and ``RandomFlip`` ->
    ``ViewRandomFlip`` (same settings; the same random draws and images),
    and ``PackInputs`` also packs ``teacher_view`` and
    ``teacher_num_views`` (and ``sample_idx``) into each data sample's
    metainfo. For a sampled
    bank, ``RandomResizedCrop`` -> ``ViewRandomResizedCrop`` with
    ``num_crops`` fixed crops per image.

    Args:
        pipeline (Sequence[dict]): The config's training pipeline, e.g.
            ``cfg.train_dataloader.dataset.pipeline``.
        num_crops (int, optional): Crops per image of a sampled bank (the
            bank's ``TeacherBank.recording_kwargs()`` gives it); None: an
            exact bank, ``RandomResizedCrop`` refused.
        view_seed (int): Seed of the sampled crops.

    Returns:
        list[dict]: A new pipeline config (the input is not changed).

    Raises:
        ValueError: A transform draws views the bank cannot enumerate (e.g.
            ``RandomResizedCrop``, ``RandAugment``) or is unknown, or the
            pipeline has no ``PackInputs``.
    """
    out = []
    for transform in pipeline:
        name = _type_name(transform)
        transform = copy.deepcopy(dict(transform))
        if name in VIEW_TRANSFORMS:
            transform['type'] = VIEW_TRANSFORMS[name]
        elif name == 'RandomResizedCrop' and num_crops is not None:
            transform.update(
                type='ViewRandomResizedCrop',
                num_crops=num_crops,
                view_seed=view_seed)
        elif name == 'PackInputs':
            keys = tuple(
                transform.get('meta_keys', PackInputs.DEFAULT_META_KEYS))
            transform['meta_keys'] = keys + tuple(
                k for k in ('sample_idx', ) + VIEW_META_KEYS if k not in keys)
        elif name not in DETERMINISTIC_TRANSFORMS and name not in (
                *VIEW_TRANSFORMS.values(), 'ViewRandomResizedCrop'):
            raise ValueError(
                f'The training pipeline has {name!r}, which an exact teacher '
                'bank cannot enumerate: it holds the views of '
                f'{sorted(VIEW_TRANSFORMS)} only, after deterministic '
                f'transforms ({sorted(DETERMINISTIC_TRANSFORMS)}). Remove '
                f'{name!r} from train_dataloader.dataset.pipeline, or train '
                'with the live teacher (no model.teacher_bank). '
                'RandomResizedCrop: build a sampled bank (--sampled-crops K '
                'of tools/build_teacher_bank.py).')
        out.append(transform)
    if not any(_type_name(t) == 'PackInputs' for t in out):
        raise ValueError('The training pipeline has no PackInputs; add '
                         "dict(type='PackInputs') at its end.")
    return out
