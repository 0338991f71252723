"""Each fast path of EnergyKDDistiller changes nothing but speed.

Same batch, same weights: the losses of the plain path and of the fast path
agree within a tolerance that fits the path (float32 round-off for memory
layouts, compilation and inference mode; the autocast dtype's precision for
AMP). Energies, temperatures and losses stay float32 under autocast, and the
per-step energy logic reads nothing back from the device.
"""
import contextlib
import warnings
from unittest import mock

import pytest
import torch
from mmengine.optim import AmpOptimWrapper
from torch.overrides import TorchFunctionMode

from mmenergykd.models.energy import energy_score, group_shares
from tests.helpers import (build_model, random_batch, save_tiny_teacher,
                           tiny_classifier, tiny_distiller_cfg)

ENERGY_KD = dict(
    loss_energykd=dict(
        type='EnergyKDLoss',
        low_energy_temperature=6.0,
        mid_temperature=4.0,
        high_energy_temperature=2.0,
        loss_weight=1.0))
ENERGY_DKD = dict(
    loss_energydkd=dict(
        type='EnergyDKDLoss',
        low_energy_temperature=6.0,
        mid_temperature=4.0,
        high_energy_temperature=2.0,
        beta=2.0))
KD = dict(loss_kd=dict(type='KDLoss', temperature=4.0))
SIZE = 32
NUM = 8
#: The teacher without its finite check (the one sync a step has by design).
UNCHECKED = dict(check_finite=False)


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    return save_tiny_teacher(str(tmp_path_factory.mktemp('t') / 't.pth'))


def make(teacher_ckpt, distill_losses=ENERGY_KD, **kwargs):
    """The tiny distiller with a fixed student initialisation.

    The student is 8 channels wide (not the usual tiny 4): on the CPU,
    PyTorch 2.14's oneDNN returns wrong, run-to-run varying weight gradients
    for a channels_last 1x1 stride-2 convolution with fewer than 8 input
    channels (a ResNet downsample of a 4-channel stage), which would make
    the channels_last comparison test PyTorch instead of this code.
    """
    torch.manual_seed(0)
    cfg = tiny_distiller_cfg(
        teacher_ckpt, distill_losses=distill_losses, **kwargs)
    cfg['student'] = tiny_classifier(base=8)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = build_model(cfg)
    model.train()
    return model


def batch(model):
    return model.data_preprocessor(random_batch(NUM, size=SIZE), True)


def calibrate(model, inputs):
    """Thresholds halfway between sorted energies of this batch (20 / 20 %),
    so that float32 round-off cannot move a sample across a threshold."""
    with torch.no_grad():
        logits = model.teacher.head(model.teacher.extract_feat(inputs))
    for loss in model.energy_consumers().values():
        energies = energy_score(logits, loss.energy_temperature).sort().values
        low_n, high_n = 2, 2
        low = (energies[low_n - 1] + energies[low_n]) / 2
        high = (energies[NUM - high_n - 1] + energies[NUM - high_n]) / 2
        loss.set_thresholds(low.item(), high.item())


def losses_of(model, data):
    """Loss dict (floats) and the student's gradients for one forward."""
    model.zero_grad(set_to_none=True)
    losses = model(**data, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    grads = {
        name: p.grad.detach().clone()
        for name, p in model.student.named_parameters() if p.grad is not None
    }
    return {k: v.detach().float() for k, v in losses.items()}, grads


def assert_same(ref, other, rtol, atol):
    ref_losses, ref_grads = ref
    losses, grads = other
    assert set(ref_losses) == set(losses)
    for key in ref_losses:
        torch.testing.assert_close(
            losses[key], ref_losses[key], rtol=rtol, atol=atol, msg=key)
    for key in ref_grads:
        torch.testing.assert_close(
            grads[key].float(),
            ref_grads[key].float(),
            rtol=rtol,
            atol=atol * 10,
            msg=key)


@pytest.mark.parametrize('distill_losses', [ENERGY_KD, ENERGY_DKD, KD])
def test_channels_last(teacher_ckpt, distill_losses):
    plain = make(teacher_ckpt, distill_losses)
    fast = make(teacher_ckpt, distill_losses, channels_last=True)
    assert fast.student.backbone.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)
    assert fast.teacher.backbone.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)
    data = batch(plain)
    calibrate(plain, data['inputs'])
    calibrate(fast, data['inputs'])
    assert_same(losses_of(plain, data), losses_of(fast, data), 1e-4, 1e-5)


def test_teacher_inference_mode(teacher_ckpt):
    plain = make(teacher_ckpt)
    fast = make(teacher_ckpt, teacher_settings=dict(inference_mode=True))
    data = batch(plain)
    calibrate(plain, data['inputs'])
    calibrate(fast, data['inputs'])
    logits = fast.teacher_logits(data['inputs'])
    assert not logits.is_inference() and not logits.requires_grad
    # exactly the same computation, only without autograd bookkeeping
    assert_same(losses_of(plain, data), losses_of(fast, data), 0, 0)


def test_compile_teacher(teacher_ckpt):
    plain = make(teacher_ckpt)
    fast = make(teacher_ckpt, teacher_settings=dict(compile=True))
    data = batch(plain)
    calibrate(plain, data['inputs'])
    calibrate(fast, data['inputs'])
    torch.testing.assert_close(
        fast.teacher_logits(data['inputs']),
        plain.teacher_logits(data['inputs']),
        rtol=1e-4,
        atol=1e-5)
    assert_same(losses_of(plain, data), losses_of(fast, data), 1e-4, 1e-5)


def test_all_fast_paths_together(teacher_ckpt):
    plain = make(teacher_ckpt)
    fast = make(
        teacher_ckpt,
        channels_last=True,
        teacher_settings=dict(inference_mode=True, check_finite=False))
    data = batch(plain)
    calibrate(plain, data['inputs'])
    calibrate(fast, data['inputs'])
    assert_same(losses_of(plain, data), losses_of(fast, data), 1e-4, 1e-5)


def amp_optim_wrapper(model, dtype):
    """A real MMEngine AmpOptimWrapper. Its constructor insists on a GPU;
    on a CPU-only machine that check is bypassed (CPU autocast itself is
    supported by ``optim_context``: MMEngine's ``autocast`` on the CPU)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    patch = contextlib.nullcontext() if torch.cuda.is_available() else \
        mock.patch('mmengine.optim.optimizer.amp_optimizer_wrapper.'
                   'is_cuda_available', return_value=True)
    with patch, warnings.catch_warnings():
        warnings.simplefilter('ignore')  # GradScaler without CUDA: disabled
        return AmpOptimWrapper(optimizer=optimizer, dtype=dtype)


def check_float32_energy_path(model, data, context):
    """Under ``context`` the teacher runs in the low precision, while
    energies, temperatures and the losses are float32."""
    loss = model.distill_losses['loss_energykd']
    with context():
        logits = model.teacher_logits(data['inputs'])
        assert logits.dtype in (torch.bfloat16, torch.float16)
        assert loss.energies(logits).dtype == torch.float32
        assert loss.sample_temperatures(logits).dtype == torch.float32
        losses = model(**data, mode='loss')
    for key, value in losses.items():
        assert value.dtype == torch.float32, key
    return logits


@pytest.mark.parametrize('channels_last', [False, True])
def test_amp_bf16_through_amp_optim_wrapper(teacher_ckpt, channels_last):
    plain = make(teacher_ckpt)
    fast = make(teacher_ckpt, channels_last=channels_last)
    data = batch(plain)
    calibrate(plain, data['inputs'])
    calibrate(fast, data['inputs'])
    wrapper = amp_optim_wrapper(fast, 'bfloat16')
    check_float32_energy_path(fast, data, lambda: wrapper.optim_context(fast))
    loss = fast.distill_losses['loss_energykd']
    with torch.no_grad(), wrapper.optim_context(fast):
        low_t = loss.sample_temperatures(fast.teacher_logits(data['inputs']))
    with torch.no_grad():
        ref_t = plain.distill_losses['loss_energykd'].sample_temperatures(
            plain.teacher_logits(data['inputs']))
    assert torch.equal(low_t, ref_t)  # the same energy groups
    ref = losses_of(plain, data)
    fast.zero_grad(set_to_none=True)
    with wrapper.optim_context(fast):
        losses = fast(**data, mode='loss')
    for key, value in ref[0].items():
        # bfloat16 keeps 8 mantissa bits
        torch.testing.assert_close(
            losses[key].detach(), value, rtol=5e-2, atol=2e-2, msg=key)
    # a whole training step through the wrapper
    before = [p.detach().clone() for p in fast.student.parameters()]
    log_vars = fast.train_step(random_batch(NUM, size=SIZE), wrapper)
    assert torch.isfinite(log_vars['loss'])
    assert any(not torch.equal(a, b)
               for a, b in zip(before, fast.student.parameters()))


def test_amp_fp16_cpu_autocast(teacher_ckpt):
    """fp16 on the CPU: MMEngine's ``autocast`` (hence AmpOptimWrapper's
    ``optim_context``) accepts only bfloat16 there, so this uses
    ``torch.autocast('cpu', torch.float16)`` directly, which PyTorch
    supports; the GPU test below goes through AmpOptimWrapper."""
    plain = make(teacher_ckpt)
    fast = make(teacher_ckpt)
    data = batch(plain)
    calibrate(plain, data['inputs'])
    calibrate(fast, data['inputs'])

    def context():
        return torch.autocast('cpu', dtype=torch.float16)

    check_float32_energy_path(fast, data, context)
    ref = losses_of(plain, data)
    with context():
        losses = fast(**data, mode='loss')
    for key, value in ref[0].items():
        torch.testing.assert_close(
            losses[key].detach(), value, rtol=1e-2, atol=5e-3, msg=key)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_amp_through_amp_optim_wrapper_cuda(teacher_ckpt, dtype):
    plain = make(teacher_ckpt).cuda()
    fast = make(teacher_ckpt, channels_last=True).cuda()
    data = batch(plain)
    calibrate(plain, data['inputs'])
    calibrate(fast, data['inputs'])
    wrapper = amp_optim_wrapper(fast, dtype)
    check_float32_energy_path(fast, data, lambda: wrapper.optim_context(fast))
    ref = losses_of(plain, data)
    with wrapper.optim_context(fast):
        losses = fast(**data, mode='loss')
    for key, value in ref[0].items():
        torch.testing.assert_close(
            losses[key].detach(), value, rtol=5e-2, atol=2e-2, msg=key)
    log_vars = fast.train_step(random_batch(NUM, size=SIZE), wrapper)
    assert torch.isfinite(log_vars['loss'])


# ----------------------------------------------------------------------
# no host-device synchronisation in the per-step energy logic

#: Tensor operations that read a value back from the device: on a GPU each
#: one waits for all queued work. (Some CUDA kernels also synchronise inside
#: C++, e.g. ``bincount``; the GPU test below catches those.)
SYNCING = {
    '__bool__', '__int__', '__float__', '__index__', '__complex__', 'item',
    'tolist', 'numpy', 'cpu', 'nonzero', 'argwhere', 'unique',
    'unique_consecutive', 'bincount', 'masked_select', 'equal', 'allclose',
    'is_nonzero', 'repeat_interleave', '_local_scalar_dense'
}


class SyncDetector(TorchFunctionMode):
    """Record tensor operations that would synchronise host and device.

    On a CPU nothing actually waits, so this is a proxy: every Python-level
    read of a tensor's value or data-dependent shape (``.item()``,
    ``bool(t)``, ``nonzero``, boolean-mask indexing, ``.cpu()``, ...).
    """

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, '__name__', str(func))
        if name in SYNCING:
            self.calls.append(name)
        elif name in ('__getitem__', '__setitem__', 'index_put_',
                      'index_put') and self._bool_index(args):
            self.calls.append(f'{name}[bool mask]')
        elif name == 'to' and any(
                str(a) == 'cpu' for a in list(args[1:]) +
                list(kwargs.values())) and args[0].device.type != 'cpu':
            self.calls.append('to(cpu)')
        return func(*args, **kwargs)

    @staticmethod
    def _bool_index(args):
        index = args[1] if len(args) > 1 else None
        items = index if isinstance(index, (tuple, list)) else (index, )
        return any(
            isinstance(i, torch.Tensor) and i.dtype == torch.bool
            for i in items)


def test_sync_detector_catches_syncs():
    x = torch.randn(4, 3)
    with SyncDetector() as detector:
        if (x > 0).any():
            pass
        x[x > 0]
        x.sum().item()
    assert detector.calls == ['__bool__', '__getitem__[bool mask]', 'item']


@pytest.mark.parametrize('distill_losses', [ENERGY_KD, ENERGY_DKD, KD])
@pytest.mark.parametrize('calibrated', [True, False])
def test_energy_logic_does_not_sync(teacher_ckpt, distill_losses, calibrated):
    """A whole ``loss`` call (teacher, student, distill losses, the logged
    energy-group shares) with the teacher's ``check_finite=False`` (that
    check syncs by design): no read-back from the device."""
    model = make(teacher_ckpt, distill_losses, teacher_settings=UNCHECKED)
    data = batch(model)
    if calibrated:
        calibrate(model, data['inputs'])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # uncalibrated: batch quantiles
        with SyncDetector() as detector:
            losses = model(**data, mode='loss')
            total = sum(v for k, v in losses.items() if 'loss' in k)
    assert detector.calls == []
    total.backward()


def test_teacher_finite_check_is_the_only_sync(teacher_ckpt):
    """With the check on, the step syncs once (the distiller's check), not
    once per loss: the losses leave the check to the distiller."""
    model = make(
        teacher_ckpt,
        dict(**ENERGY_KD, **KD),
        teacher_settings=dict(check_finite=True))
    data = batch(model)
    calibrate(model, data['inputs'])
    with SyncDetector() as detector:
        model(**data, mode='loss')
    assert detector.calls == ['__bool__']
    # the same losses on their own check the teacher logits they are given
    with torch.no_grad():
        teacher = model.teacher_logits(data['inputs'])
        student = model.student_logits(data['inputs'])
    for loss in model.distill_losses.values():
        with SyncDetector() as detector:
            loss(student, teacher)
        assert detector.calls == ['__bool__'], type(loss).__name__


def test_energies_computed_once_per_step(teacher_ckpt):
    model = make(teacher_ckpt, teacher_settings=UNCHECKED)
    data = batch(model)
    calibrate(model, data['inputs'])
    from mmenergykd.models.energy import consumer as energy_module
    with mock.patch.object(
            energy_module, 'energy_score',
            wraps=energy_module.energy_score) as spy:
        model(**data, mode='loss')
    assert spy.call_count == 1  # the loss and the logged shares share it


def test_heda_syncs_only_for_its_subset_size(teacher_ckpt):
    """HE-DA's extra forward runs on a data-dependent number of samples, so
    reading that number (``nonzero``) is its one, necessary sync; the
    energies are computed once per step and passed to HE-DA."""
    from mmenergykd.models.augments import HighEnergyAugment
    model = make(teacher_ckpt, teacher_settings=UNCHECKED)
    model.high_energy_augment = HighEnergyAugment(
        high_ratio=0.5, kd_term='energy')
    data = batch(model)
    calibrate(model, data['inputs'])
    model.high_energy_augment.set_thresholds(
        float('-inf'), model.distill_losses['loss_energykd'].low_threshold)
    from mmenergykd.models.energy import consumer as energy_module
    with SyncDetector() as detector, mock.patch.object(
            energy_module, 'energy_score',
            wraps=energy_module.energy_score) as spy:
        losses = model(**data, mode='loss')
    assert detector.calls == ['nonzero']
    assert losses['heda_num'].item() >= 2
    # the batch's energies once, the mixed images' once (their temperatures)
    assert spy.call_count == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
@pytest.mark.parametrize('distill_losses', [ENERGY_KD, ENERGY_DKD])
def test_energy_logic_does_not_sync_cuda(teacher_ckpt, distill_losses):
    model = make(
        teacher_ckpt, distill_losses, teacher_settings=UNCHECKED).cuda()
    data = batch(model)
    calibrate(model, data['inputs'])
    with torch.no_grad():
        logits = model.teacher_logits(data['inputs'])
        student = model.student_logits(data['inputs'])
    loss = next(iter(model.distill_losses.values()))
    labels = torch.cat([s.gt_label for s in data['data_samples']]).cuda()
    args = (student,
            logits) if 'loss_energykd' in distill_losses else (student, logits,
                                                               labels)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        loss(*args)
        group_shares(loss.energy_groups(logits))
    finally:
        torch.cuda.set_sync_debug_mode('default')
