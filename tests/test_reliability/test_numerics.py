# Copyright (c) mmenergykd contributors. All rights reserved.
"""Finite losses and gradients in numerically hard cases.

Full distiller steps (all four distillation losses at once, plus HE-DA's
extra term) with: logits of magnitude 1e4, fp16 / bf16 autocast and half
precision logits, a batch of one, and batches that fall entirely in one
energy group.
"""
import math

import pytest
import torch

from mmenergykd.models.augments import HighEnergyAugment
from mmenergykd.models.losses import (DKDLoss, EnergyDKDLoss, EnergyKDLoss,
                                      KDLoss)
from tests.helpers import (build_model, random_batch, save_tiny_teacher,
                           tiny_distiller_cfg)

ALL_LOSSES = dict(
    loss_energykd=dict(type='EnergyKDLoss'),
    loss_energydkd=dict(type='EnergyDKDLoss', beta=8.0),
    loss_kd=dict(type='KDLoss', temperature=4.0),
    loss_dkd=dict(type='DKDLoss', beta=8.0))


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    return save_tiny_teacher(str(tmp_path_factory.mktemp('n') / 't.pth'))


def make_model(teacher_ckpt, calibrate=True):
    torch.manual_seed(0)
    model = build_model(
        tiny_distiller_cfg(teacher_ckpt, distill_losses=ALL_LOSSES))
    heda = HighEnergyAugment(high_ratio=0.5, kd_term='energy', seed=0)
    model.high_energy_augment = heda
    if calibrate:
        for consumer in model.energy_consumers().values():
            consumer.set_thresholds(-3.0, -2.0)
    model.train()
    return model


def step(model, batch, autocast_dtype=None):
    """One loss + backward; returns (losses, student grads)."""
    data = model.data_preprocessor(batch, True)
    model.zero_grad()
    if autocast_dtype is None:
        losses = model(**data, mode='loss')
    else:
        with torch.autocast('cpu', dtype=autocast_dtype):
            losses = model(**data, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    grads = [p.grad for p in model.student.parameters() if p.grad is not None]
    return losses, grads


def assert_finite(losses, grads):
    for key, value in losses.items():
        assert torch.isfinite(value).all(), (key, value)
    assert grads, 'no gradient reached the student'
    for grad in grads:
        assert torch.isfinite(grad).all()


def test_logits_of_magnitude_1e4(teacher_ckpt):
    model = make_model(teacher_ckpt)
    # Teacher and student logits ~ +-1e4 (their heads' biases).
    big = torch.tensor([1e4, -1e4, 5e3, -5e3, 0.0])
    model.teacher.head.fc.bias.data.copy_(big)
    model.student.head.fc.bias.data.copy_(-big.flip(0))
    model.teacher.head.fc.weight.data.mul_(1e3)
    with torch.no_grad():
        data = model.data_preprocessor(random_batch(num=8), True)
        logits = model.teacher_logits(data['inputs'])
    assert logits.abs().max() >= 1e4
    losses, grads = step(model, random_batch(num=8))
    assert_finite(losses, grads)
    assert losses['loss_kd'] > 0


@pytest.fixture
def one_thread():
    # PyTorch 2.15's multi-threaded CPU bf16 convolution backward now and
    # then returns NaN weight gradients even for a plain MMPretrain
    # classifier trained with cross-entropy alone (about 1 run in 8 with 2
    # threads, never with 1): a PyTorch CPU kernel issue, not the losses'.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_autocast_low_precision_steps(teacher_ckpt, dtype, one_thread):
    """Finite losses, and finite gradients where the losses produce them.

    The gradients checked are those of the losses w.r.t. the student's
    logits (every forward of the step, HE-DA's included) and of the linear
    head. The backbone's conv weight gradients are left out: PyTorch's CPU
    bf16 convolution backward returns non-finite values now and then even
    for a plain classifier trained with cross-entropy alone, with one thread
    too (seen in CI), which says nothing about the losses.
    """
    model = make_model(teacher_ckpt)
    logits = []

    def keep_logits(module, args, output):
        output.retain_grad()
        logits.append(output)

    handle = model.student.head.fc.register_forward_hook(keep_logits)
    try:
        for _ in range(3):
            logits.clear()
            losses, _ = step(model, random_batch(num=8), autocast_dtype=dtype)
            assert_finite(losses, [model.student.head.fc.weight.grad])
            assert logits and all(out.grad is not None for out in logits)
            for out in logits:
                assert torch.isfinite(out.grad).all()
            # the energy logic and the losses stay float32 under autocast
            for key in ('loss_energykd', 'loss_energydkd', 'loss_kd',
                        'loss_dkd'):
                assert losses[key].dtype == torch.float32, key
    finally:
        handle.remove()


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
@pytest.mark.parametrize('scale', [1.0, 1e4])
def test_low_precision_logits_in_every_loss(dtype, scale):
    gen = torch.Generator().manual_seed(0)
    student = (torch.randn(6, 10, generator=gen) * scale).to(dtype)
    teacher = (torch.randn(6, 10, generator=gen) * scale).to(dtype)
    labels = torch.arange(6) % 10
    for loss in (KDLoss(), DKDLoss(), EnergyKDLoss(), EnergyDKDLoss()):
        if hasattr(loss, 'set_thresholds'):
            loss.set_thresholds(-3.0 * scale, -2.0 * scale)
        s = student.clone().requires_grad_(True)
        args = (s, teacher,
                labels) if isinstance(loss,
                                      (DKDLoss, EnergyDKDLoss)) else (s,
                                                                      teacher)
        value = loss(*args)
        assert value.dtype == torch.float32
        assert torch.isfinite(value), type(loss).__name__
        value.backward()
        assert torch.isfinite(s.grad.float()).all(), type(loss).__name__


def test_batch_of_one(teacher_ckpt):
    # 64 px: the tiny ResNets' last stage then has 2x2 maps, so the
    # student's BatchNorm can train on a single image.
    for calibrate in (True, False):
        model = make_model(teacher_ckpt, calibrate=calibrate)
        losses, grads = step(model, random_batch(num=1, size=64))
        assert_finite(losses, grads)
        assert losses['loss_heda'] == 0  # fewer than 2 samples to mix
        shares = [
            losses[k].item()
            for k in ('energy_low', 'energy_mid', 'energy_high')
        ]
        assert sorted(shares) == [0.0, 0.0, 1.0]


@pytest.mark.parametrize('group,thresholds,temperature', [
    ('low', (math.inf, math.inf), 6.0),
    ('mid', (-math.inf, math.inf), 4.0),
    ('high', (-math.inf, -math.inf), 2.0),
])
def test_every_sample_in_one_energy_group(teacher_ckpt, group, thresholds,
                                          temperature):
    model = make_model(teacher_ckpt)
    for consumer in model.energy_consumers().values():
        consumer.set_thresholds(*thresholds)
    losses, grads = step(model, random_batch(num=8))
    assert_finite(losses, grads)
    assert losses[f'energy_{group}'].item() == 1.0
    # the whole batch at that group's temperature: Energy KD == KD at T
    data = model.data_preprocessor(random_batch(num=8), True)
    with torch.no_grad():
        t = model.teacher_logits(data['inputs'])
        s = model.student_logits(data['inputs'])
    energy_kd = model.distill_losses['loss_energykd'](s, t)
    assert energy_kd.item() == pytest.approx(
        KDLoss(temperature=temperature)(s, t).item(), rel=1e-6)
    if group == 'high':  # HE-DA mixes the whole batch
        assert losses['heda_num'].item() == 8
