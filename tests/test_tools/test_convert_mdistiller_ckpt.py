# Copyright (c) mmenergykd contributors. All rights reserved.
"""Tests of ``tools/convert_mdistiller_ckpt.py``.

The converted MMPretrain models are compared with an independent
re-implementation of the original CRD / mdistiller CIFAR networks
(``mdistiller/models/cifar/*.py``) written below as plain functions of a
state dict with the zoo's own key names: a shape spec (which tensors the
original network has) and a functional forward pass (eval mode). It does not
use any mmenergykd module, so a wrong layer, order or key mapping in the port
shows up as a logit difference or a conversion error.
"""
import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import torch
import torch.nn.functional as F

from tests.test_tools.tool_import import import_tool_module

_converter = import_tool_module('model_converters.mdistiller')
MDISTILLER_MODEL_NAMES = _converter.MDISTILLER_MODEL_NAMES
ConversionError = _converter.ConversionError
build_model_from_config = _converter.build_model_from_config
convert_mdistiller_state_dict = _converter.convert_mdistiller_state_dict
default_config_path = _converter.default_config_path
extract_state_dict = _converter.extract_state_dict

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'convert_mdistiller_ckpt.py'


def _find_fixtures() -> Path:
    """The Energy KD release's student weights (shared test data).

    ``$MMENERGYKD_FIXTURES``, else ``<repo>/../shared/fixtures``, else the
    workplace's ``/work/shared/fixtures``.
    """
    candidates = [
        Path(os.environ['MMENERGYKD_FIXTURES'])
        if os.environ.get('MMENERGYKD_FIXTURES') else None,
        REPO / '..' / 'shared' / 'fixtures',
        Path('/work/shared/fixtures'),
    ]
    for root in candidates:
        if root is not None and (root / 'energykd_official_students').is_dir():
            return root / 'energykd_official_students'
    return REPO / '..' / 'shared' / 'fixtures' / 'energykd_official_students'


FIXTURES = _find_fixtures()

#: Released Energy KD students (see the fixtures' README) -> zoo name.
FIXTURE_MODELS = {
    'energykd_wrn16_2_student_best': 'wrn_16_2',
    'energykd_res20_student_best': 'resnet20',
    'energykd_mv2_student_best': 'mobilenetv2',
    'energyaug_wrn16_2_student_best': 'wrn_16_2',
    'energyaug_res20_student_best': 'resnet20',
    'energyaug_mv2_student_best': 'mobilenetv2',
}

#: (parameters, state-dict entries) of the original networks with 100
#: classes, counted on the networks built by mdistiller's
#: mdistiller/models/cifar/*.py (commit a08d46f); the same literal numbers
#: are checked against the ported models in tests/test_models/test_backbones.
ORIGINAL_SIZES = {
    'resnet8': (83892, 56),
    'resnet14': (181108, 92),
    'resnet20': (278324, 128),
    'resnet32': (472756, 200),
    'resnet44': (667188, 272),
    'resnet56': (861620, 344),
    'resnet110': (1736564, 668),
    'resnet8x4': (1233540, 62),
    'resnet32x4': (7433860, 206),
    'wrn_16_1': (180916, 82),
    'wrn_16_2': (703284, 83),
    'wrn_40_1': (569780, 226),
    'wrn_40_2': (2255156, 227),
    'vgg8': (3965028, 37),
    'vgg11': (9277284, 58),
    'vgg13': (9462180, 72),
    'vgg16': (14774436, 93),
    'vgg19': (20086692, 114),
    'mobilenetv2': (812836, 320),
    'shufflenetv1': (949258, 296),
    'shufflenetv2': (1355528, 338),
    'resnet50': (23705252, 320),
}

# ---------------------------------------------------------------------------
# Reference: the original zoo networks, keyed as in their state dicts.
# ---------------------------------------------------------------------------
Spec = List[Tuple[str, Tuple[int, ...]]]

RESNET = {
    'resnet8': (8, (16, 16, 32, 64)),
    'resnet14': (14, (16, 16, 32, 64)),
    'resnet20': (20, (16, 16, 32, 64)),
    'resnet32': (32, (16, 16, 32, 64)),
    'resnet44': (44, (16, 16, 32, 64)),
    'resnet56': (56, (16, 16, 32, 64)),
    'resnet110': (110, (16, 16, 32, 64)),
    'resnet8x4': (8, (32, 64, 128, 256)),
    'resnet32x4': (32, (32, 64, 128, 256)),
}
WRN = {
    'wrn_16_1': (16, 1),
    'wrn_16_2': (16, 2),
    'wrn_40_1': (40, 1),
    'wrn_40_2': (40, 2)
}
VGG = {
    'vgg8': [[64], [128], [256], [512], [512]],
    'vgg11': [[64], [128], [256, 256], [512, 512], [512, 512]],
    'vgg13': [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
    'vgg16': [[64, 64], [128, 128], [256] * 3, [512] * 3, [512] * 3],
    'vgg19': [[64, 64], [128, 128], [256] * 4, [512] * 4, [512] * 4],
}
# MobileNetV2 stages (t, c, n, s); mobile_half: T = 6, width 0.5
MV2_STAGES = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2),
              (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
SHUFFLE_V1 = ((240, 480, 960), (4, 8, 4), 3)
SHUFFLE_V2 = ((116, 232, 464, 1024), (3, 7, 3))
RESNET50 = (3, 4, 6, 3)


def _bn_spec(name: str, c: int) -> Spec:
    return [(f'{name}.{k}', (c, )) for k in
            ('weight', 'bias', 'running_mean', 'running_var')] + \
        [(f'{name}.num_batches_tracked', ())]


def _conv_spec(name: str,
               out_c: int,
               in_c: int,
               k: int,
               bias: bool = False) -> Spec:
    spec = [(f'{name}.weight', (out_c, in_c, k, k))]
    return spec + ([(f'{name}.bias', (out_c, ))] if bias else [])


def _fc_spec(name: str, in_c: int) -> Spec:
    return [(f'{name}.weight', (100, in_c)), (f'{name}.bias', (100, ))]


def reference_spec(name: str) -> Spec:
    """Tensors of the original network ``name`` (keys and shapes)."""
    s: Spec = []
    if name in RESNET:
        depth, w = RESNET[name]
        s += _conv_spec('conv1', w[0], 3, 3) + _bn_spec('bn1', w[0])
        cin = w[0]
        for i in (1, 2, 3):
            for b in range((depth - 2) // 6):
                p, cout = f'layer{i}.{b}', w[i]
                stride = 2 if i > 1 and b == 0 else 1
                s += _conv_spec(f'{p}.conv1', cout, cin, 3)
                s += _bn_spec(f'{p}.bn1', cout)
                s += _conv_spec(f'{p}.conv2', cout, cout, 3)
                s += _bn_spec(f'{p}.bn2', cout)
                if stride != 1 or cin != cout:
                    s += _conv_spec(f'{p}.downsample.0', cout, cin, 1)
                    s += _bn_spec(f'{p}.downsample.1', cout)
                cin = cout
        s += _fc_spec('fc', cin)
    elif name in WRN:
        depth, k = WRN[name]
        widths = (16, 16 * k, 32 * k, 64 * k)
        s += _conv_spec('conv1', 16, 3, 3)
        cin = 16
        for i in (1, 2, 3):
            for b in range((depth - 4) // 6):
                p, cout = f'block{i}.layer.{b}', widths[i]
                s += _bn_spec(f'{p}.bn1', cin)
                s += _conv_spec(f'{p}.conv1', cout, cin, 3)
                s += _bn_spec(f'{p}.bn2', cout)
                s += _conv_spec(f'{p}.conv2', cout, cout, 3)
                if cin != cout:
                    s += _conv_spec(f'{p}.convShortcut', cout, cin, 1)
                cin = cout
        s += _bn_spec('bn1', cin) + _fc_spec('fc', cin)
    elif name in VGG:
        cin = 3
        for i, block in enumerate(VGG[name]):
            for j, cout in enumerate(block):
                s += _conv_spec(f'block{i}.{3 * j}', cout, cin, 3, bias=True)
                s += _bn_spec(f'block{i}.{3 * j + 1}', cout)
                cin = cout
        s += _fc_spec('classifier', 512)
    elif name == 'mobilenetv2':
        s += _conv_spec('conv1.0', 16, 3, 3) + _bn_spec('conv1.1', 16)
        cin = 16
        for i, (t, c, n, _) in enumerate(MV2_STAGES):
            cout = c // 2
            for j in range(n):
                p, hid = f'blocks.{i}.{j}.conv', cin * t
                s += _conv_spec(f'{p}.0', hid, cin, 1)
                s += _bn_spec(f'{p}.1', hid)
                s += _conv_spec(f'{p}.3', hid, 1, 3) + _bn_spec(f'{p}.4', hid)
                s += _conv_spec(f'{p}.6', cout, hid, 1)
                s += _bn_spec(f'{p}.7', cout)
                cin = cout
        s += _conv_spec('conv2.0', 1280, cin, 1) + _bn_spec('conv2.1', 1280)
        s += _fc_spec('classifier.0', 1280)
    elif name == 'shufflenetv1':
        s += _conv_spec('conv1', 24, 3, 1) + _bn_spec('bn1', 24)
        cin, (outs, blocks, g) = 24, SHUFFLE_V1
        for i, (out, n) in enumerate(zip(outs, blocks)):
            for b in range(n):
                p = f'layer{i + 1}.{b}'
                o = out - cin if b == 0 else out
                mid, g1 = o // 4, (1 if cin == 24 else g)
                s += _conv_spec(f'{p}.conv1', mid, cin // g1, 1)
                s += _bn_spec(f'{p}.bn1', mid)
                s += _conv_spec(f'{p}.conv2', mid, 1, 3)
                s += _bn_spec(f'{p}.bn2', mid)
                s += _conv_spec(f'{p}.conv3', o, mid // g, 1)
                s += _bn_spec(f'{p}.bn3', o)
                cin = out
        s += _fc_spec('linear', cin)
    elif name == 'shufflenetv2':
        s += _conv_spec('conv1', 24, 3, 1) + _bn_spec('bn1', 24)
        cin, (outs, blocks) = 24, SHUFFLE_V2
        for i, (out, n) in enumerate(zip(outs, blocks)):
            p, mid = f'layer{i + 1}.0', out // 2
            s += _conv_spec(f'{p}.conv1', cin, 1, 3)
            s += _bn_spec(f'{p}.bn1', cin)
            s += _conv_spec(f'{p}.conv2', mid, cin, 1)
            s += _bn_spec(f'{p}.bn2', mid)
            s += _conv_spec(f'{p}.conv3', mid, cin, 1)
            s += _bn_spec(f'{p}.bn3', mid)
            s += _conv_spec(f'{p}.conv4', mid, 1, 3)
            s += _bn_spec(f'{p}.bn4', mid)
            s += _conv_spec(f'{p}.conv5', mid, mid, 1)
            s += _bn_spec(f'{p}.bn5', mid)
            for b in range(1, n + 1):
                p = f'layer{i + 1}.{b}'
                s += _conv_spec(f'{p}.conv1', mid, mid, 1)
                s += _bn_spec(f'{p}.bn1', mid)
                s += _conv_spec(f'{p}.conv2', mid, 1, 3)
                s += _bn_spec(f'{p}.bn2', mid)
                s += _conv_spec(f'{p}.conv3', mid, mid, 1)
                s += _bn_spec(f'{p}.bn3', mid)
            cin = out
        s += _conv_spec('conv2', outs[3], cin, 1) + _bn_spec('bn2', outs[3])
        s += _fc_spec('linear', outs[3])
    elif name == 'resnet50':
        s += _conv_spec('conv1', 64, 3, 3) + _bn_spec('bn1', 64)
        cin = 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), RESNET50)):
            for b in range(n):
                p, out = f'layer{i + 1}.{b}', planes * 4
                stride = 2 if i > 0 and b == 0 else 1
                s += _conv_spec(f'{p}.conv1', planes, cin, 1)
                s += _bn_spec(f'{p}.bn1', planes)
                s += _conv_spec(f'{p}.conv2', planes, planes, 3)
                s += _bn_spec(f'{p}.bn2', planes)
                s += _conv_spec(f'{p}.conv3', out, planes, 1)
                s += _bn_spec(f'{p}.bn3', out)
                if stride != 1 or cin != out:
                    s += _conv_spec(f'{p}.shortcut.0', out, cin, 1)
                    s += _bn_spec(f'{p}.shortcut.1', out)
                cin = out
        s += _fc_spec('linear', cin)
    else:
        raise KeyError(name)
    return s


def random_reference_weights(name: str, seed: int = 0) -> Dict:
    """Random weights in the original layout, with non-trivial BN stats."""
    g = torch.Generator().manual_seed(seed)
    sd = OrderedDict()
    for key, shape in reference_spec(name):
        if key.endswith('num_batches_tracked'):
            sd[key] = torch.tensor(100)
        elif len(shape) == 4:  # conv: He-normal over the fan-in
            fan_in = shape[1] * shape[2] * shape[3]
            sd[key] = torch.randn(shape, generator=g) * (2.0 / fan_in)**0.5
        elif key.endswith('running_var'):
            sd[key] = torch.rand(shape, generator=g) + 0.5
        elif key.endswith('running_mean') or key.endswith('bias'):
            sd[key] = (torch.rand(shape, generator=g) - 0.5) * 0.2
        elif len(shape) == 2:  # classifier
            sd[key] = torch.randn(shape, generator=g) * 0.05
        else:  # BN weight
            sd[key] = torch.rand(shape, generator=g) * 0.5 + 0.5
    return sd


def _conv(sd, name, x, stride=1, padding=0, groups=1):
    return F.conv2d(x, sd[f'{name}.weight'], sd.get(f'{name}.bias'), stride,
                    padding, 1, groups)


def _bn(sd, name, x):
    return F.batch_norm(x, sd[f'{name}.running_mean'],
                        sd[f'{name}.running_var'], sd[f'{name}.weight'],
                        sd[f'{name}.bias'], False, 0.0, 1e-5)


def _fc(sd, name, x):
    return F.linear(x, sd[f'{name}.weight'], sd[f'{name}.bias'])


def _shuffle(x, groups):
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).permute(0, 2, 1, 3, 4) \
        .reshape(n, c, h, w)


def reference_forward(name: str, sd: Dict, x: torch.Tensor) -> torch.Tensor:
    """Eval-mode logits of the original network ``name``."""
    relu = F.relu
    if name in RESNET:
        depth = RESNET[name][0]
        x = relu(_bn(sd, 'bn1', _conv(sd, 'conv1', x, 1, 1)))
        for i in (1, 2, 3):
            for b in range((depth - 2) // 6):
                p, stride = f'layer{i}.{b}', (2 if i > 1 and b == 0 else 1)
                out = relu(
                    _bn(sd, f'{p}.bn1', _conv(sd, f'{p}.conv1', x, stride, 1)))
                out = _bn(sd, f'{p}.bn2', _conv(sd, f'{p}.conv2', out, 1, 1))
                if f'{p}.downsample.0.weight' in sd:
                    x = _bn(sd, f'{p}.downsample.1',
                            _conv(sd, f'{p}.downsample.0', x, stride))
                x = relu(out + x)
        return _fc(sd, 'fc', F.avg_pool2d(x, 8).flatten(1))
    if name in WRN:
        depth = WRN[name][0]
        x = _conv(sd, 'conv1', x, 1, 1)
        for i in (1, 2, 3):
            for b in range((depth - 4) // 6):
                p, stride = f'block{i}.layer.{b}', (2
                                                    if i > 1 and b == 0 else 1)
                act = relu(_bn(sd, f'{p}.bn1', x))
                out = relu(
                    _bn(sd, f'{p}.bn2', _conv(sd, f'{p}.conv1', act, stride,
                                              1)))
                out = _conv(sd, f'{p}.conv2', out, 1, 1)
                if f'{p}.convShortcut.weight' in sd:  # projects activated x
                    x = _conv(sd, f'{p}.convShortcut', act, stride)
                x = x + out
        x = relu(_bn(sd, 'bn1', x))
        return _fc(sd, 'fc', F.avg_pool2d(x, 8).flatten(1))
    if name in VGG:
        h = x.shape[2]
        for i, block in enumerate(VGG[name]):
            for j in range(len(block)):
                x = _bn(sd, f'block{i}.{3 * j + 1}',
                        _conv(sd, f'block{i}.{3 * j}', x, 1, 1))
                x = relu(x)
            if i < 3 or (i == 3 and h == 64):
                x = F.max_pool2d(x, 2, 2)
        return _fc(sd, 'classifier', F.adaptive_avg_pool2d(x, 1).flatten(1))
    if name == 'mobilenetv2':
        x = relu(_bn(sd, 'conv1.1', _conv(sd, 'conv1.0', x, 2, 1)))
        for i, (_, _, n, s) in enumerate(MV2_STAGES):
            for j in range(n):
                p, stride = f'blocks.{i}.{j}.conv', (s if j == 0 else 1)
                hid = sd[f'{p}.0.weight'].shape[0]
                out = relu(_bn(sd, f'{p}.1', _conv(sd, f'{p}.0', x)))
                out = relu(
                    _bn(sd, f'{p}.4', _conv(sd, f'{p}.3', out, stride, 1,
                                            hid)))
                out = _bn(sd, f'{p}.7', _conv(sd, f'{p}.6', out))
                x = x + out if stride == 1 and x.shape == out.shape else out
        x = relu(_bn(sd, 'conv2.1', _conv(sd, 'conv2.0', x)))
        x = F.avg_pool2d(x, 2, ceil_mode=True).flatten(1)
        return _fc(sd, 'classifier.0', x)
    if name == 'shufflenetv1':
        x = relu(_bn(sd, 'bn1', _conv(sd, 'conv1', x)))
        for i, n in enumerate(SHUFFLE_V1[1]):
            for b in range(n):
                p, stride = f'layer{i + 1}.{b}', (2 if b == 0 else 1)
                g1 = x.shape[1] // sd[f'{p}.conv1.weight'].shape[1]
                mid = sd[f'{p}.conv1.weight'].shape[0]
                out = relu(
                    _bn(sd, f'{p}.bn1', _conv(sd, f'{p}.conv1', x, groups=g1)))
                out = _shuffle(out, g1)
                out = relu(
                    _bn(sd, f'{p}.bn2',
                        _conv(sd, f'{p}.conv2', out, stride, 1, mid)))
                out = _bn(sd, f'{p}.bn3',
                          _conv(sd, f'{p}.conv3', out, groups=SHUFFLE_V1[2]))
                if stride == 2:
                    x = relu(
                        torch.cat(
                            [out, F.avg_pool2d(x, 3, stride=2, padding=1)], 1))
                else:
                    x = relu(out + x)
        return _fc(sd, 'linear', F.avg_pool2d(x, 4).flatten(1))
    if name == 'shufflenetv2':
        x = relu(_bn(sd, 'bn1', _conv(sd, 'conv1', x)))
        for i, n in enumerate(SHUFFLE_V2[1]):
            p, cin = f'layer{i + 1}.0', x.shape[1]
            mid = sd[f'{p}.conv2.weight'].shape[0]
            left = _bn(sd, f'{p}.bn1', _conv(sd, f'{p}.conv1', x, 2, 1, cin))
            left = relu(_bn(sd, f'{p}.bn2', _conv(sd, f'{p}.conv2', left)))
            right = relu(_bn(sd, f'{p}.bn3', _conv(sd, f'{p}.conv3', x)))
            right = _bn(sd, f'{p}.bn4',
                        _conv(sd, f'{p}.conv4', right, 2, 1, mid))
            right = relu(_bn(sd, f'{p}.bn5', _conv(sd, f'{p}.conv5', right)))
            x = _shuffle(torch.cat([left, right], 1), 2)
            for b in range(1, n + 1):
                p = f'layer{i + 1}.{b}'
                half = x.shape[1] // 2
                x1, x2 = x[:, :half], x[:, half:]
                out = relu(_bn(sd, f'{p}.bn1', _conv(sd, f'{p}.conv1', x2)))
                out = _bn(sd, f'{p}.bn2',
                          _conv(sd, f'{p}.conv2', out, 1, 1, half))
                out = relu(_bn(sd, f'{p}.bn3', _conv(sd, f'{p}.conv3', out)))
                x = _shuffle(torch.cat([x1, out], 1), 2)
        x = relu(_bn(sd, 'bn2', _conv(sd, 'conv2', x)))
        return _fc(sd, 'linear', F.avg_pool2d(x, 4).flatten(1))
    if name == 'resnet50':
        x = relu(_bn(sd, 'bn1', _conv(sd, 'conv1', x, 1, 1)))
        for i, n in enumerate(RESNET50):
            for b in range(n):
                p, stride = f'layer{i + 1}.{b}', (2 if i > 0 and b == 0 else 1)
                out = relu(_bn(sd, f'{p}.bn1', _conv(sd, f'{p}.conv1', x)))
                out = relu(
                    _bn(sd, f'{p}.bn2', _conv(sd, f'{p}.conv2', out, stride,
                                              1)))
                out = _bn(sd, f'{p}.bn3', _conv(sd, f'{p}.conv3', out))
                if f'{p}.shortcut.0.weight' in sd:
                    x = _bn(sd, f'{p}.shortcut.1',
                            _conv(sd, f'{p}.shortcut.0', x, stride))
                x = relu(out + x)
        return _fc(sd, 'linear', F.adaptive_avg_pool2d(x, 1).flatten(1))
    raise KeyError(name)


def fixed_inputs(n: int = 8) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, 32, 32, generator=generator)


def load_converted(name: str, state_dict: Dict) -> torch.nn.Module:
    model = build_model_from_config(default_config_path(name))
    result = model.load_state_dict(state_dict, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return model.eval()


# ---------------------------------------------------------------------------
# The CLI, run as a subprocess.
# ---------------------------------------------------------------------------
def _run_cli_parallel(jobs: Dict[str, List[str]], tmp: Path) -> Dict:
    """Run ``tools/convert_mdistiller_ckpt.py`` once per job.

    At most one process per CPU core runs at a time, each single-threaded
    (the work is mostly importing and file I/O).
    """
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    pending, running, results = list(jobs.items()), {}, {}
    while pending or running:
        while pending and len(running) < max(2, os.cpu_count() or 1):
            key, args = pending.pop(0)
            out = open(tmp / f'{key}.out', 'w')
            err = open(tmp / f'{key}.err', 'w')
            running[key] = (subprocess.Popen(
                [sys.executable, str(TOOL), *args],
                stdout=out,
                stderr=err,
                env=env,
                cwd=str(tmp)), out, err)
        key = next(iter(running))
        proc, out, err = running.pop(key)
        proc.wait(timeout=300)
        out.close()
        err.close()
        results[key] = (proc.returncode, (tmp / f'{key}.out').read_text(),
                        (tmp / f'{key}.err').read_text())
    return results


@pytest.fixture(scope='module')
def converted_fixtures(tmp_path_factory):
    if not FIXTURES.is_dir():
        pytest.skip(f'fixtures not found at {FIXTURES}')
    tmp = tmp_path_factory.mktemp('converted')
    jobs = {
        fname:
        [str(FIXTURES / fname),
         str(tmp / f'{fname}.pth'), '--model', model]
        for fname, model in FIXTURE_MODELS.items()
    }
    return tmp, _run_cli_parallel(jobs, tmp)


@pytest.mark.parametrize('fname', sorted(FIXTURE_MODELS))
def test_convert_released_student(fname, converted_fixtures):
    tmp, results = converted_fixtures
    name = FIXTURE_MODELS[fname]
    returncode, stdout, stderr = results[fname]
    assert returncode == 0, stderr
    assert 'Converted' in stdout

    original = torch.load(
        FIXTURES / fname, map_location='cpu', weights_only=True)['model']
    # the reference spec describes the released network exactly
    assert {k: tuple(v.shape) for k, v in original.items()} == \
        dict(reference_spec(name))

    ckpt = torch.load(tmp / f'{fname}.pth', weights_only=True)
    assert set(ckpt) == {'meta', 'state_dict'}
    assert ckpt['meta']['model'] == name
    assert len(ckpt['meta']['dataset_meta']['classes']) == 100
    model = load_converted(name, ckpt['state_dict'])

    x = fixed_inputs()
    with torch.no_grad():
        expected = reference_forward(name, original, x)
        logits = model(x, mode='tensor')
    assert expected.std() > 0.1  # trained weights, non-trivial logits
    assert (logits - expected).abs().max().item() < 1e-4


def test_wrong_model_fails_clearly(tmp_path):
    src = tmp_path / 'resnet20.pth'
    torch.save({'model': random_reference_weights('resnet20')}, src)
    returncode, _, stderr = _run_cli_parallel(
        {'deeper': [str(src),
                    str(tmp_path / 'b.pth'), '--model', 'resnet56']},
        tmp_path)['deeper']
    assert returncode == 1
    assert 'Traceback' not in stderr, stderr
    assert "error: The checkpoint does not match model 'resnet56'" in stderr
    assert 'Target keys not filled (216)' in stderr
    assert 'backbone.layer1.3.conv1.weight' in stderr
    assert not (tmp_path / 'b.pth').exists()


def test_unknown_model_name(tmp_path, capsys):
    tool = import_tool_module('convert_mdistiller_ckpt')
    src = tmp_path / 'resnet20.pth'
    torch.save({'model': random_reference_weights('resnet20')}, src)
    assert tool.main(
        [str(src), str(tmp_path / 'a.pth'), '--model', 'resnet99']) == 1
    stderr = capsys.readouterr().err
    assert "error: Unknown model 'resnet99'" in stderr
    assert 'resnet20' in stderr and 'mobile_half' in stderr
    assert not (tmp_path / 'a.pth').exists()
    # the zoo's own spellings are accepted
    mv2 = tmp_path / 'mv2.pth'
    torch.save({'model': random_reference_weights('mobilenetv2')}, mv2)
    assert tool.main(
        [str(mv2), str(tmp_path / 'c.pth'), '--model', 'mobile_half']) == 0
    ckpt = torch.load(tmp_path / 'c.pth', weights_only=True)
    assert ckpt['meta']['model'] == 'mobilenetv2'


def test_wrong_family_lists_unmatched_keys():
    source = random_reference_weights('resnet20')
    with pytest.raises(ConversionError) as err:
        convert_mdistiller_state_dict(source, 'wrn_16_2')
    message = str(err.value)
    assert "does not match model 'wrn_16_2'" in message
    assert 'Source keys without a target' in message
    assert 'layer2.0.downsample.0.weight (-> backbone.layer2.0.' \
        'downsample.0.weight)' in message
    assert 'Target keys not filled' in message


# ---------------------------------------------------------------------------
# The conversion function, in-process.
# ---------------------------------------------------------------------------
def test_reference_spec_matches_original_sizes():
    for name in MDISTILLER_MODEL_NAMES:
        spec = reference_spec(name)
        params = sum(
            torch.Size(shape).numel() for key, shape in spec
            if not key.endswith(('running_mean', 'running_var',
                                 'num_batches_tracked')))
        assert (params, len(spec)) == ORIGINAL_SIZES[name], name


@pytest.mark.parametrize('name', MDISTILLER_MODEL_NAMES)
def test_every_zoo_layout_converts(name):
    source = OrderedDict(
        (k, torch.zeros(shape)) for k, shape in reference_spec(name))
    converted = convert_mdistiller_state_dict(source, name)
    assert len(converted) == len(source)
    assert all(k.startswith(('backbone.', 'head.fc.')) for k in converted)


# One network per family not covered by the released students (and the
# layouts those do not exercise: a stride-1 projection in resnet8x4, an
# identity first block in wrn_16_1).
@pytest.mark.parametrize('name', [
    'resnet8x4', 'wrn_16_1', 'vgg13', 'shufflenetv1', 'shufflenetv2',
    'resnet50'
])
def test_converted_logits_match_reference(name):
    original = random_reference_weights(name)
    model = load_converted(name, convert_mdistiller_state_dict(original, name))
    x = fixed_inputs(2)
    with torch.no_grad():
        expected = reference_forward(name, original, x)
        logits = model(x, mode='tensor')
    scale = max(1.0, expected.abs().max().item())
    assert (logits - expected).abs().max().item() < 1e-4 * scale


def test_extract_state_dict_layouts():
    sd = OrderedDict(a=torch.zeros(1), b=torch.ones(2))
    for ckpt in (sd, {
            'model': sd
    }, {
            'state_dict': sd,
            'epoch': 3
    }, {
            'model':
            OrderedDict(('module.' + k, v) for k, v in sd.items())
    }):
        out = extract_state_dict(ckpt)
        assert list(out) == ['a', 'b']
    distiller = {
        'model': {
            'module.student.a': torch.zeros(1),
            'module.teacher.a': torch.ones(1)
        }
    }
    out = extract_state_dict(distiller, prefix='student.')
    assert list(out) == ['a'] and out['a'].item() == 0
    with pytest.raises(ConversionError, match='No tensors'):
        extract_state_dict({'epoch': 3, 'best_acc': 70.0})
    with pytest.raises(ConversionError, match='prefix'):
        extract_state_dict(sd, prefix='student.')


def test_shape_mismatch_is_reported():
    source = random_reference_weights('resnet20')
    source['fc.weight'] = torch.zeros(10, 64)
    with pytest.raises(ConversionError) as err:
        convert_mdistiller_state_dict(source, 'resnet20')
    message = str(err.value)
    assert 'Shape mismatches (1)' in message
    assert 'fc.weight (10, 64) -> head.fc.weight (100, 64)' in message
    assert 'Target keys not filled' not in message


def test_checkpoint_without_num_batches_tracked_converts():
    # PyTorch 0.4.0 checkpoints (the CRD zoo's) have no BatchNorm
    # num_batches_tracked; they convert like PyTorch loads them (filled
    # with 0) and give the same logits.
    original = random_reference_weights('resnet20')
    old = OrderedDict((k, v) for k, v in original.items()
                      if not k.endswith('num_batches_tracked'))
    assert len(old) < len(original)
    converted = convert_mdistiller_state_dict(old, 'resnet20')
    filled = [k for k in converted if k.endswith('num_batches_tracked')]
    assert filled and all(converted[k].item() == 0 for k in filled)
    model = load_converted('resnet20', converted)
    x = fixed_inputs(2)
    with torch.no_grad():
        expected = reference_forward('resnet20', original, x)
        assert (model(x, mode='tensor') - expected).abs().max() < 1e-4


def test_distiller_checkpoint_without_prefix_suggests_it():
    student = random_reference_weights('resnet20')
    full = OrderedDict([('student.' + k, v) for k, v in student.items()] +
                       [('teacher.' + k, v) for k, v in student.items()])
    with pytest.raises(ConversionError, match='--prefix student.'):
        convert_mdistiller_state_dict(full, 'resnet20')


def test_unreadable_source_is_an_error_line(tmp_path):
    src = tmp_path / 'cut.pth'
    torch.save({'model': random_reference_weights('resnet20')}, src)
    src.write_bytes(src.read_bytes()[:5000])
    returncode, _, stderr = _run_cli_parallel(
        {'cut': [str(src),
                 str(tmp_path / 'o.pth'), '--model', 'resnet20']},
        tmp_path)['cut']
    assert returncode == 1
    assert 'Traceback' not in stderr, stderr
    assert 'error:' in stderr and 'cut short' in stderr
    assert not (tmp_path / 'o.pth').exists()
