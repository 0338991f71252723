"""HE-DA inside a distillation step, checked against independent math."""
import copy
import math

import numpy as np
import pytest
import torch

from mmenergykd.models.augments import HighEnergyAugment
from mmenergykd.models.energy import energy_score
from tests.helpers import (build_model, random_batch, save_tiny_teacher,
                           tiny_distiller_cfg)


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    return save_tiny_teacher(str(tmp_path_factory.mktemp('h') / 't.pth'))


def make(teacher_ckpt, **heda):
    model = build_model(
        tiny_distiller_cfg(
            teacher_ckpt, distill_losses=dict(loss_kd=dict(type='KDLoss'))))
    model.high_energy_augment = HighEnergyAugment(seed=3, **heda)
    model.train()
    return model


def step(model, num=10, seed=0, size=24):
    data = model.data_preprocessor(
        random_batch(num=num, size=size, seed=seed), True)
    inputs = data['inputs']
    with torch.no_grad():
        t = model.teacher.head(model.teacher.extract_feat(inputs))
    return data, inputs, energy_score(t, 4.0)


class MixSpy:
    """Record what ``mix`` receives and returns."""

    def __init__(self, module):
        self.module, self.original = module, module.mix
        self.calls = []
        module.mix = self

    def __call__(self, images):
        rng_before = copy.deepcopy(self.module.rng)
        mixed, info = self.original(images)
        self.calls.append((images.clone(), mixed.clone(), info, rng_before))
        return mixed, info


def test_subset_is_exactly_samples_above_threshold(teacher_ckpt):
    model = make(teacher_ckpt, high_ratio=0.5)
    data, inputs, energies = step(model)
    threshold = energies.sort().values[4].item()
    model.high_energy_augment.set_thresholds(float('-inf'), threshold)
    expected = [i for i, e in enumerate(energies.tolist()) if e > threshold]
    assert len(expected) == 5
    spy = MixSpy(model.high_energy_augment)
    losses = model(**data, mode='loss')
    images, _, _, _ = spy.calls[0]
    assert torch.equal(images, inputs[expected])
    assert losses['heda_num'].item() == 5
    assert losses['heda_share'].item() == pytest.approx(0.5)


def test_random_selection_control(teacher_ckpt):
    # The ablation control mixes as many samples as the energy rule would,
    # drawn uniformly from the batch with HE-DA's own generator.
    model = make(teacher_ckpt, high_ratio=0.5, selection='random')
    data, inputs, energies = step(model, num=12)
    threshold = energies.sort().values[7].item()  # 4 samples above
    module = model.high_energy_augment
    module.set_thresholds(float('-inf'), threshold)
    spy = MixSpy(module)
    rng = copy.deepcopy(module.rng)
    losses = model(**data, mode='loss')
    expected = np.sort(rng.choice(12, size=4, replace=False))
    images, _, _, _ = spy.calls[0]
    assert torch.equal(images, inputs[torch.as_tensor(expected)])
    assert losses['heda_num'].item() == 4
    # over many steps every sample is picked about equally often, whatever
    # its energy (the energy rule would always pick the same 4)
    counts = np.zeros(12)
    for _ in range(300):
        counts[module.select(energies).numpy()] += 1
    assert counts.sum() == 1200
    assert counts.min() > 60 and counts.max() < 140  # expected 100 each


def test_cutmix_box_rule_and_partners_within_subset(teacher_ckpt):
    model = make(teacher_ckpt, high_ratio=0.5, augment='cutmix')
    data, inputs, energies = step(model, size=24)
    model.high_energy_augment.set_thresholds(
        float('-inf'),
        energies.sort().values[4].item())
    spy = MixSpy(model.high_energy_augment)
    model(**data, mode='loss')
    images, mixed, info, rng = spy.calls[0]
    # Independent CutMix: lam ~ Beta(1, 1), then the permutation, then a box
    # of side sqrt(1 - lam) * (H, W) at a uniform centre, clipped.
    lam = rng.beta(1.0, 1.0)
    perm = rng.permutation(images.shape[0])
    height, width = images.shape[-2:]
    cut_h = int(height * math.sqrt(1 - lam))
    cut_w = int(width * math.sqrt(1 - lam))
    cy, cx = rng.integers(height), rng.integers(width)
    y1, y2 = np.clip([cy - cut_h // 2, cy + cut_h // 2], 0, height)
    x1, x2 = np.clip([cx - cut_w // 2, cx + cut_w // 2], 0, width)
    assert info['box'] == (y1, y2, x1, x2)
    assert info['perm'].tolist() == perm.tolist()
    assert info['lam'] == pytest.approx(1 - (y2 - y1) * (x2 - x1) /
                                        (height * width))
    inside = torch.zeros(height, width, dtype=torch.bool)
    inside[y1:y2, x1:x2] = True
    for i, j in enumerate(perm):
        assert torch.equal(mixed[i][:, inside], images[j][:, inside])
        assert torch.equal(mixed[i][:, ~inside], images[i][:, ~inside])


def test_mixup_stays_within_subset(teacher_ckpt):
    model = make(teacher_ckpt, high_ratio=0.5, augment='mixup')
    data, inputs, energies = step(model)
    model.high_energy_augment.set_thresholds(
        float('-inf'),
        energies.sort().values[4].item())
    spy = MixSpy(model.high_energy_augment)
    model(**data, mode='loss')
    images, mixed, info, _ = spy.calls[0]
    lam, perm = info['lam'], info['perm']
    assert torch.allclose(mixed, lam * images + (1 - lam) * images[perm])


@pytest.mark.parametrize('kd_term', ['kd', 'energy'])
def test_extra_term_equals_kd_on_mixed_images(teacher_ckpt, kd_term):
    model = build_model(
        tiny_distiller_cfg(
            teacher_ckpt,
            distill_losses=dict(
                loss_energykd=dict(type='EnergyKDLoss', loss_weight=1.0))))
    model.high_energy_augment = HighEnergyAugment(
        seed=1, kd_term=kd_term, temperature=4.0, loss_weight=0.9)
    model.train()
    data, inputs, energies = step(model)
    ordered = energies.sort().values
    model.high_energy_augment.set_thresholds(float('-inf'), ordered[4].item())
    model.distill_losses['loss_energykd'].set_thresholds(
        ordered[2].item(), ordered[7].item())
    spy = MixSpy(model.high_energy_augment)
    losses = model(**data, mode='loss')
    _, mixed, _, _ = spy.calls[0]
    with torch.no_grad():
        s = model.student.head(model.student.extract_feat(mixed))
        t = model.teacher.head(model.teacher.extract_feat(mixed))
    if kd_term == 'kd':
        temps = torch.full((len(mixed), ), 4.0)
    else:
        e = energy_score(t, 4.0)
        temps = torch.where(e < ordered[2], 6.0,
                            torch.where(e > ordered[7], 2.0, 4.0))
    col = temps[:, None]
    p_t = torch.softmax(t / col, 1)
    kl = (
        p_t *
        (torch.log_softmax(t / col, 1) - torch.log_softmax(s / col, 1))).sum(1)
    expected = 0.9 * (kl * temps**2).mean()
    assert losses['loss_heda'].item() == pytest.approx(
        expected.item(), rel=1e-5)
    # the original batch is still trained on as before
    assert 'loss_cls' in losses and 'loss_energykd' in losses


def test_fewer_than_two_samples_no_extra_term(teacher_ckpt):
    model = make(teacher_ckpt, high_ratio=0.5)
    data, inputs, energies = step(model)
    ordered = energies.sort().values
    for threshold, count in ((ordered[-1].item(), 0), (ordered[-2].item(), 1)):
        model.high_energy_augment.set_thresholds(float('-inf'), threshold)
        spy = MixSpy(model.high_energy_augment)
        losses = model(**data, mode='loss')
        assert not spy.calls
        assert losses['loss_heda'].item() == 0.0
        assert losses['heda_num'].item() == 0.0
        model.high_energy_augment.mix = spy.original


def test_any_image_size_and_channels():
    heda = HighEnergyAugment(seed=0)
    for shape in ((4, 1, 7, 13), (3, 5, 30, 9)):
        images = torch.randn(*shape)
        mixed, info = heda.mix(images)
        assert mixed.shape == images.shape
        assert 0.0 <= info['lam'] <= 1.0


def test_invalid_settings():
    with pytest.raises(ValueError, match='high_ratio'):
        HighEnergyAugment(high_ratio=1.5)
    with pytest.raises(ValueError, match='augment'):
        HighEnergyAugment(augment='rotate')
    with pytest.raises(ValueError, match='alpha'):
        HighEnergyAugment(alpha=0)
    with pytest.raises(ValueError, match='kd_term'):
        HighEnergyAugment(kd_term='dkd')
    with pytest.raises(ValueError, match='selection'):
        HighEnergyAugment(selection='hardest')
