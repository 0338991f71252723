"""tools/benchmark_speed.py: a tiny run of the real tool, its ratios and its
memory probes."""
import json
import os.path as osp
import subprocess
import sys

import pytest

from tests.helpers import CONFIGS, REPO
from tests.test_tools.tool_import import import_tool_module

_bench = import_tool_module('analysis_tools.speed_benchmark')
TARGETS = _bench.TARGETS
BenchSettings = _bench.BenchSettings
_derive_losses = _bench.derive_losses
compute_ratios = _bench.compute_ratios
load_setup = _bench.load_setup
run_probe_subprocess = _bench.run_probe_subprocess

TINY_CONFIG = '''
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmenergykd'], allow_failed_imports=False)


def _classifier(base):
    return dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=18, stem_channels=base,
                      base_channels=base, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10,
                  in_channels=base * 8,
                  loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))


model = dict(
    type='EnergyKDDistiller', student=_classifier(4), teacher=_classifier(8),
    teacher_ckpt=None,
    distill_losses=dict(loss_energykd=dict(
        type='EnergyKDLoss', low_energy_temperature=1.5,
        mid_temperature=1.0, high_energy_temperature=0.5, loss_weight=3.0)))
data_preprocessor = dict(num_classes=10, mean=[127.5] * 3, std=[127.5] * 3)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9))
train_dataloader = dict(
    batch_size=8,
    dataset=dict(pipeline=[dict(type='RandomResizedCrop', scale=24)]))
custom_hooks = [dict(type='HighEnergyAugmentHook', high_ratio=0.5,
                     kd_term='energy', loss_weight=3.0)]
'''


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory):
    path = tmp_path_factory.mktemp('cfg') / 'tiny.py'
    path.write_text(TINY_CONFIG)
    return str(path)


def test_tool_prints_table_ratios_and_writes_json(tiny_config, tmp_path):
    out = tmp_path / 'speed.json'
    cmd = [
        sys.executable,
        osp.join(REPO, 'tools', 'benchmark_speed.py'), tiny_config, '--device',
        'cpu', '--iters', '2', '--warmup', '1', '--heda-ratios', '0,0.5,1',
        '--calib-batches', '2', '--calib-passes', '1', '--loss-reps', '2',
        '--no-memory', '--json',
        str(out)
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    for needle in ('student step alone', 'teacher forward alone', 'KD step',
                   'Energy KD step', 'high_ratio 0.5', 'calibration pass',
                   'plain teacher inference', 'Limit = student step',
                   'Energy KD / KD step', 'measured/predicted',
                   'Calibration / plain teacher inference',
                   'Targets (medians):'):
        assert needle in text, needle
    report = json.loads(out.read_text())
    # the config's crop size and batch size
    assert report['img_size'] == 24 and report['batch_size'] == 8
    assert set(report['timings']) >= {
        'student', 'teacher', 'kd', 'energykd', 'heda@0', 'heda@0.5', 'heda@1',
        'student_fb@4', 'teacher@4', 'student_fb@8', 'kd_loss',
        'energykd_loss', 'calibration', 'teacher_eval'
    }
    for stats in report['timings'].values():
        assert stats['median_s'] > 0 and stats['images_per_s'] > 0
    ratios = report['ratios']
    for key in ('kd_over_limit', 'energykd_over_limit', 'energykd_over_kd',
                'calibration_over_teacher_eval'):
        assert ratios[key] > 0, key
    assert set(ratios['heda']) == {'0', '0.5', '1'}
    # exactly int(B * r) samples were mixed in every HE-DA step
    assert report['heda_selected'] == {
        '0': dict(expected=0, observed=[0]),
        '0.5': dict(expected=4, observed=[4]),
        '1': dict(expected=8, observed=[8])
    }
    assert {
        'energykd_over_kd', 'kd_over_limit', 'energykd_over_limit',
        'calibration_over_teacher_eval', 'heda@0.5_over_predicted'
    } <= set(report['targets'])
    assert report['memory'] == {}
    # HE-DA settings come from the config's HighEnergyAugmentHook
    assert report['loss_configs']['heda']['loss_weight'] == 3.0
    assert report['loss_configs']['kd'] == dict(
        loss_kd=dict(type='KDLoss', temperature=1.0, loss_weight=3.0))


def test_memory_probes(tiny_config):
    settings = BenchSettings(config=tiny_config, batch_size=4, img_size=32)
    thresholds = dict(energy=dict(loss_energykd=[-10.0, -9.0]), heda={})
    student = run_probe_subprocess(settings, 'student', thresholds)
    energykd = run_probe_subprocess(settings, 'energykd', thresholds)
    for result in (student, energykd):
        assert result['peak_bytes'] > 0
        assert 'RSS' in result['method']


def test_ratios_and_targets():
    med = dict(
        student=1.0,
        teacher=0.5,
        kd=1.55,
        energykd=1.56,
        kd_loss=0.001,
        energykd_loss=0.0012)
    med['student_fb@4'] = 0.5
    med['teacher@4'] = 0.25
    med['heda@0'] = 1.56
    med['heda@0.5'] = 2.5
    med['calibration'] = 1.0
    med['teacher_eval'] = 0.97
    timings = {k: dict(median_s=v, images_per_s=8 / v) for k, v in med.items()}
    memory = dict(
        student=dict(peak_bytes=100),
        teacher=dict(peak_bytes=50),
        kd=dict(peak_bytes=140),
        energykd=dict(peak_bytes=160))
    ratios, targets = compute_ratios(timings, memory, [0.0, 0.5], {
        0.0: 0,
        0.5: 4
    }, 8)
    assert ratios['limit_s'] == pytest.approx(1.5)
    assert ratios['energykd_over_kd'] == pytest.approx(1.56 / 1.55)
    assert ratios['kd_over_limit'] == pytest.approx(1.55 / 1.5)
    # predicted HE-DA step: Energy KD step + the extra work on k samples
    heda = ratios['heda']['0.5']
    assert heda['predicted_over_kd'] == pytest.approx((1.56 + 0.75) / 1.55)
    assert heda['over_predicted'] == pytest.approx(2.5 / 2.31)
    assert ratios['heda']['0']['over_predicted'] == pytest.approx(1.0)
    assert ratios['calibration_over_teacher_eval'] == pytest.approx(0.97)
    assert ratios['energykd_memory_over_limit'] == pytest.approx(160 / 150)
    assert targets['energykd_over_kd']['met']
    assert targets['kd_over_limit']['met']
    assert targets['calibration_over_teacher_eval']['met']
    assert not targets['energykd_memory_over_limit']['met']
    assert targets['heda@0.5_over_predicted']['met']
    assert set(TARGETS) >= {'energykd_over_kd', 'kd_over_limit'}


def test_loss_variants_derived_from_the_config():
    plain, energy, plain_label, energy_label = _derive_losses(
        dict(loss_kd=dict(type='KDLoss', temperature=2.0, loss_weight=3.0)))
    assert (plain_label, energy_label) == ('KD', 'Energy KD')
    assert energy['loss_energykd']['mid_temperature'] == 2.0
    assert energy['loss_energykd']['low_energy_temperature'] == 3.0
    plain, energy, plain_label, _ = _derive_losses(
        dict(
            loss_edkd=dict(
                type='EnergyDKDLoss', mid_temperature=1.0, beta=0.5)))
    assert plain_label == 'DKD'
    assert plain['loss_dkd'] == dict(
        type='DKDLoss', temperature=1.0, loss_weight=1.0, alpha=1.0, beta=0.5)
    with pytest.raises(ValueError, match='distill_losses'):
        _derive_losses({})


def test_imagenet_config_setup():
    setup = load_setup(
        BenchSettings(
            config=osp.join(
                CONFIGS, 'energykd-heda',
                'energykd-heda_resnet34_resnet18_8xb32_100e_in1k.py'),
            channels_last=True))
    assert setup['img_size'] == 224 and setup['batch_size'] == 32
    assert setup['model']['teacher_ckpt'] is None  # nothing downloads
    assert setup['model']['channels_last'] is True
    assert setup['plain_losses']['loss_kd']['temperature'] == 1.0
    assert setup['heda']['kd_term'] == 'energy'
    assert setup['heda']['loss_weight'] == 3.0
    assert setup['num_classes'] == 1000


# The teacher-bank variant (issue 14): an exact bank (RandomCrop 24 with
# padding 1 on 24-pixel images: 3 x 3 offsets, x 2 flips = 18 views).
BANK_PIPELINE = '''
train_cfg = dict(by_epoch=True, max_epochs=3)
train_dataloader = dict(
    batch_size=8,
    dataset=dict(pipeline=[dict(type='RandomCrop', crop_size=24, padding=1),
                           dict(type='RandomFlip', prob=0.5),
                           dict(type='PackInputs')]))
custom_hooks = []
'''


def test_bank_variant_ratios_from_reported_medians(tmp_path):
    config = tmp_path / 'tiny_bank.py'
    config.write_text(TINY_CONFIG + BANK_PIPELINE)
    out = tmp_path / 'speed.json'
    cmd = [
        sys.executable,
        osp.join(REPO, 'tools', 'benchmark_speed.py'),
        str(config), '--device', 'cpu', '--iters', '2', '--warmup', '1',
        '--heda-ratios', '0', '--calib-batches', '1', '--calib-passes', '1',
        '--loss-reps', '1', '--bank-build-views', '2', '--no-memory', '--json',
        str(out)
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for needle in ('Energy KD step, teacher bank lookup', 'teacher bank build',
                   'Teacher bank (exact; 18 views',
                   'with bank / student step alone', 'break-even after',
                   'bank_over_student'):
        assert needle in proc.stdout, needle
    report = json.loads(out.read_text())
    bank = report['teacher_bank']
    assert (bank['kind'], bank['num_views'], bank['build_views'],
            bank['training_epochs']) == ('exact', 3 * 3 * 2, 2, 3)
    # the step looked the live teacher's logits up: same losses up to the
    # fp16 storage of the bank
    assert bank['loss_max_abs_diff_vs_live']['loss_cls'] == 0.0
    assert bank['loss_max_abs_diff_vs_live']['loss_energykd'] < 1e-2
    # timed side by side in their own round-robin, reported with medians
    assert list(report['bank_timings']) == [
        'student', 'teacher', 'kd', 'energykd', 'energykd_bank', 'bank_build'
    ]
    med = {k: v['median_s'] for k, v in report['bank_timings'].items()}
    assert med['energykd_bank'] > 0 and med['bank_build'] > 0
    ratios = report['ratios']['bank']
    assert ratios['over_student'] == pytest.approx(med['energykd_bank'] /
                                                   med['student'])
    assert report['ratios']['bank_over_student'] == ratios['over_student']
    assert ratios['over_live'] == pytest.approx(med['energykd_bank'] /
                                                med['energykd'])
    assert ratios['over_kd'] == pytest.approx(med['energykd_bank'] / med['kd'])
    per_view = med['bank_build'] / (8 * 2)
    per_image = med['teacher'] / 8
    epochs = 18 * per_view / per_image
    assert ratios['build_epochs'] == pytest.approx(epochs)
    saved = (med['energykd'] - med['energykd_bank']) / med['teacher']
    assert ratios['saved_epochs_per_epoch'] == pytest.approx(saved)
    expected = epochs / (3 * saved) if saved > 0 else float('inf')
    assert ratios['break_even_runs'] == pytest.approx(expected)
    target = report['targets']['bank_over_student']
    assert target['met'] == (ratios['over_student'] <= 1.10)


def test_bank_views_of_the_pipelines():
    bank_mod = import_tool_module('analysis_tools.speed_benchmark.bank')
    cifar = [
        dict(type='RandomCrop', crop_size=32, padding=4),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='PackInputs')
    ]
    assert bank_mod.count_views(cifar, 32, 8) == dict(
        kind='exact', num_views=9 * 9 * 2, num_crops=None)
    imagenet = [
        dict(type='LoadImageFromFile'),
        dict(type='RandomResizedCrop', scale=224),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='PackInputs')
    ]
    assert bank_mod.count_views(imagenet, 64, 3) == dict(
        kind='sampled', num_views=3 * 2, num_crops=3)
    messages = []
    settings = BenchSettings(config='unused')
    assert bank_mod.make_bank_bench(
        dict(
            pipeline=[dict(type='RandAugment'),
                      dict(type='PackInputs')],
            img_size=32), settings, None, 4.0, messages.append) is None
    assert 'RandAugment' in messages[0]
