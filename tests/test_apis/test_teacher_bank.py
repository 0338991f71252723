# Copyright (c) mmenergykd contributors. All rights reserved.
"""mmenergykd.apis.build_teacher_bank / verify_teacher_bank: the checksums
a bank keeps, damage found when it is opened, repair with ``resume``, and
the builder's half-made states."""
import json
import os
import os.path as osp
import shutil
import zlib

import numpy as np
import pytest
from mmengine.config import Config

from mmenergykd.apis import verify_teacher_bank
from mmenergykd.models.teacher_bank import (BankDamagedError, BankWriter,
                                            TeacherBank, partial_path)
from tests.test_apis.bank_setup import (CHUNK, NUM_SAMPLES, build,
                                        damaged_copy, make_setup)

ROW = 162 * 100 * 4  # bytes of one sample: views x classes x float32


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    setup = make_setup(str(tmp_path_factory.mktemp('apibank')))
    setup['bank'] = build(setup['config'], osp.join(setup['root'], 'bank'))
    return setup


def _expect(config):
    return TeacherBank.expect_from_config(Config.fromfile(config))


def _header(bank):
    with open(osp.join(bank, 'header.json')) as f:
        return json.load(f)


def _logits(bank):
    with open(osp.join(bank, 'logits.bin'), 'rb') as f:
        return f.read()


def test_header_keeps_the_crc_of_every_chunk(setup):
    header = _header(setup['bank'])
    raw = _logits(setup['bank'])
    assert len(raw) == NUM_SAMPLES * ROW
    # zlib.crc32 of each chunk's bytes, cut here by hand: 0..4, 5..9, 10..11
    expected = [
        zlib.crc32(raw[start * ROW:min(start + CHUNK, NUM_SAMPLES) * ROW])
        for start in range(0, NUM_SAMPLES, CHUNK)
    ]
    assert header['checksums'] == dict(
        algorithm='crc32', chunks=dict(logits=expected))
    assert header['version'] == 2 and header['complete'] is True
    assert header['config'] == setup['config']
    done = verify_teacher_bank(setup['bank'], setup['config'])
    assert done['chunks'] == 3 and done['bytes'] == NUM_SAMPLES * ROW


def test_flipped_bytes_refused_naming_chunk_samples_and_command(
        setup, tmp_path):
    # a few bytes inside sample 7: chunk 1 (samples 5..9)
    bad = damaged_copy(setup['bank'], str(tmp_path / 'bad'), 7 * ROW + 1000)
    with pytest.raises(BankDamagedError) as info:
        TeacherBank.open(bad, expect=_expect(setup['config']))
    message = str(info.value)
    assert '1 of 3 chunks' in message, message
    assert 'chunk 1: samples 5..9 (logits.bin)' in message, message
    assert (f"python tools/build_teacher_bank.py {setup['config']} --out "
            f'{bad} --dtype fp32 --chunk-size 5 --resume') in message
    with pytest.raises(BankDamagedError, match='chunk 1: samples 5..9'):
        verify_teacher_bank(bad)
    # the low bit of one logit in the last chunk
    low = damaged_copy(
        setup['bank'], str(tmp_path / 'low'), 11 * ROW, size=1, mask=1)
    with pytest.raises(BankDamagedError, match='chunk 2: samples 10..11'):
        TeacherBank.open(low, expect={})
    # verify=False opens it (the hook checks the chunks itself)
    assert TeacherBank.open(low, expect={}, verify=False).damaged_chunks() \
        == {2: ['logits.bin']}


def test_resume_rebuilds_only_the_damaged_chunks(setup, tmp_path, monkeypatch):
    bad = damaged_copy(setup['bank'], str(tmp_path / 'bad'), 6 * ROW, 64)
    written = []
    real = BankWriter.write_chunk

    def record(self, chunk, data, stats=None):
        written.append(chunk)
        real(self, chunk, data, stats)

    monkeypatch.setattr(BankWriter, 'write_chunk', record)
    with pytest.raises(FileExistsError) as info:
        build(setup['config'], bad)
    assert '--resume' in str(info.value) and f'rm -r {bad}' in str(info.value)
    build(setup['config'], bad, resume=True)
    assert written == [1]
    assert _logits(bad) == _logits(setup['bank'])
    assert _header(bad) == _header(setup['bank'])
    TeacherBank.open(bad, expect=_expect(setup['config']))


def test_truncated_bank_repaired_by_the_named_command(setup, tmp_path):
    bad = str(tmp_path / 'truncated')
    shutil.copytree(setup['bank'], bad)
    os.truncate(osp.join(bad, 'logits.bin'), 8 * ROW)
    with pytest.raises(BankDamagedError) as info:
        TeacherBank.open(bad, expect=_expect(setup['config']))
    assert 'truncated' in str(info.value)
    assert f'--out {bad} --dtype fp32 --chunk-size 5 --resume' in str(
        info.value)
    build(setup['config'], bad, resume=True)
    assert _logits(bad) == _logits(setup['bank'])


def test_bank_without_checksums_refused_with_a_rebuild(setup, tmp_path):
    old = str(tmp_path / 'old')
    shutil.copytree(setup['bank'], old)
    header = _header(old)
    del header['checksums']
    header['version'] = 1
    with open(osp.join(old, 'header.json'), 'w') as f:
        json.dump(header, f)
    with pytest.raises(ValueError) as info:
        TeacherBank.open(old, expect=_expect(setup['config']))
    message = str(info.value)
    assert 'version 1' in message and 'checksums' in message, message
    command = (f"rm -r {old} && python tools/build_teacher_bank.py "
               f"{setup['config']} --out {old} --dtype fp32 --chunk-size 5")
    assert command in message
    # what the command does: remove, then build
    shutil.rmtree(old)
    build(setup['config'], old)
    assert _logits(old) == _logits(setup['bank'])


def test_missing_header_is_named(setup, tmp_path):
    headless = str(tmp_path / 'headless')
    shutil.copytree(setup['bank'], headless)
    os.remove(osp.join(headless, 'header.json'))
    with pytest.raises(ValueError) as info:
        TeacherBank.open(headless, expect=_expect(setup['config']))
    message = str(info.value)
    assert 'has no header.json' in message and 'No teacher bank' not in \
        message, message
    assert f'rm -r {headless} && python tools/build_teacher_bank.py' in \
        message
    with pytest.raises(FileNotFoundError, match='No teacher bank at'):
        TeacherBank.open(str(tmp_path / 'nothing'), expect={})
    # the builder: --resume cannot help a bank without header, so neither
    # message suggests it; both name the command that removes it
    for resume in (False, True):
        with pytest.raises((FileExistsError, ValueError)) as info:
            build(setup['config'], headless, resume=resume)
        message = str(info.value)
        assert '--resume' not in message, message
        assert f'rm -r {headless} && python tools/build_teacher_bank.py' in \
            message
    shutil.rmtree(headless)
    build(setup['config'], headless)
    assert _logits(headless) == _logits(setup['bank'])


def test_partial_without_header_recovers(setup, tmp_path, capsys):
    """Killed between creating BANK.partial and writing its header."""
    for resume in (True, False):
        out = str(tmp_path / f'bank_{resume}')
        os.makedirs(osp.join(partial_path(out), 'progress'))
        open(osp.join(partial_path(out), 'logits.bin'), 'wb').close()
        build(setup['config'], out, resume=resume)
        assert 'has no header.json' in capsys.readouterr().out
        assert _logits(out) == _logits(setup['bank'])
    # chunks marked but no header: nothing can be checked; the command
    # removes the folder
    out = str(tmp_path / 'marked')
    os.makedirs(osp.join(partial_path(out), 'progress'))
    open(osp.join(partial_path(out), 'progress', 'chunk_000000.json'),
         'w').close()
    with pytest.raises(ValueError) as info:
        build(setup['config'], out, resume=True)
    assert f'rm -r {partial_path(out)} && python' in str(info.value)


def test_folder_left_by_another_config(setup, tmp_path, monkeypatch):
    out = str(tmp_path / 'bank')

    def die(self, chunk, data, stats=None):
        raise KeyboardInterrupt('killed')

    with monkeypatch.context() as patch:
        patch.setattr(BankWriter, 'write_chunk', die)
        with pytest.raises(KeyboardInterrupt):
            build(setup['other_config'], out)
    for resume in (True, False):
        with pytest.raises((ValueError, FileExistsError)) as info:
            build(setup['config'], out, resume=resume)
        message = str(info.value)
        assert f'rm -r {partial_path(out)} && python ' \
            f"tools/build_teacher_bank.py {setup['config']}" in message
    assert 'teacher.checkpoint_sha256' in message or '--resume' in message
    with pytest.raises(ValueError, match='teacher.checkpoint_sha256'):
        build(setup['config'], out, resume=True)
    # a finished bank of the other teacher, resumed for this config
    other = build(setup['other_config'], str(tmp_path / 'other'))
    with pytest.raises(FileExistsError) as info:
        build(setup['config'], other)
    assert '--resume' not in str(info.value)
    assert f'rm -r {other} && python' in str(info.value)
    with pytest.raises(ValueError, match='teacher.checkpoint_sha256') as info:
        build(setup['config'], other, resume=True)
    assert f'rm -r {other} && python' in str(info.value)
    assert osp.isdir(other) and not osp.exists(partial_path(other))


def test_scopes_and_init_cfg_do_not_change_the_identity(setup):
    """A config inheriting ours through ``mmenergykd::`` gets ``_scope_``
    on its dicts; a ``Pretrained`` init_cfg names a file the checkpoint's
    SHA-256 already stands for."""
    plain = Config.fromfile(setup['config'])
    scoped = Config.fromfile(setup['config'])
    scoped.train_dataloader.dataset['_scope_'] = 'mmenergykd'
    scoped.train_dataloader.dataset.type = 'mmpretrain.CIFAR100LT'
    scoped.model.teacher['_scope_'] = 'mmenergykd'
    scoped.model.teacher.init_cfg = dict(
        type='Pretrained', checkpoint='elsewhere.pth')
    scoped.data_preprocessor.type = 'ClsDataPreprocessor'
    want = TeacherBank.expect_from_config(plain)
    got = TeacherBank.expect_from_config(scoped)
    assert got == want
    TeacherBank.open(setup['bank'], expect=got)
    scoped.train_dataloader.dataset.split = 'test'
    with pytest.raises(ValueError, match='dataset.split'):
        TeacherBank.open(
            setup['bank'], expect=TeacherBank.expect_from_config(scoped))
    assert np.isfinite(TeacherBank.open(setup['bank'],
                                        expect=want).array).all()
