# Copyright (c) mmenergykd contributors. All rights reserved.
"""forward(mode='predict') writes the teacher's energy and group into the
predictions only while switched on, with the energy loss's thresholds."""
import pytest
import torch

from mmenergykd.models.distillers.energy_annotation import (
    energy_annotation_enabled, set_energy_annotation)
from tests.helpers import build_model, random_batch, tiny_distiller_cfg


def _predict(model, seed=0):
    data = model.data_preprocessor(random_batch(num=8, seed=seed), False)
    with torch.no_grad():
        out = model(data['inputs'], data['data_samples'], mode='predict')
    return data['inputs'], out


def test_annotation_follows_the_switch_and_the_thresholds():
    torch.manual_seed(0)
    model = build_model(tiny_distiller_cfg(None)).eval()
    with torch.no_grad():  # spread the random teacher's energies apart
        model.teacher.head.fc.weight.mul_(50.0)
    loss = model.distill_losses['loss_energykd']
    inputs, _ = _predict(model)
    with torch.no_grad():
        logits = model.teacher.head(model.teacher.extract_feat(inputs))
    energies = -4.0 * torch.logsumexp(logits.double() / 4.0, dim=1)
    ordered = energies.sort().values
    # midway between neighbours: no sample sits on a threshold
    low = (ordered[1] + ordered[2]).item() / 2
    high = (ordered[5] + ordered[6]).item() / 2
    assert ordered[2] - ordered[1] > 1e-5 and ordered[6] - ordered[5] > 1e-5
    loss.set_thresholds(low, high)

    _, plain = _predict(model)
    assert not energy_annotation_enabled(model)
    assert all('energy_group' not in s for s in plain)

    set_energy_annotation(model, True)
    _, annotated = _predict(model)
    got = torch.stack([s.teacher_energy for s in annotated]).double()
    torch.testing.assert_close(got, energies, atol=1e-4, rtol=1e-5)
    expected = [
        0 if e < low else 2 if e > high else 1 for e in energies.tolist()
    ]
    assert [int(s.energy_group) for s in annotated] == expected
    assert sorted(expected) == [0, 0, 1, 1, 1, 1, 2, 2]
    # the student's predictions are unchanged
    assert [int(s.pred_label) for s in annotated] == \
        [int(s.pred_label) for s in plain]
    # tensor mode: the student's logits, nothing else
    with torch.no_grad():
        out = model(inputs, mode='tensor')
        student = model.student.head(model.student.extract_feat(inputs))
    torch.testing.assert_close(out, student)
    set_energy_annotation(model, False)
    _, again = _predict(model)
    assert all('energy_group' not in s for s in again)


def test_uncalibrated_thresholds_name_the_hook():
    model = build_model(tiny_distiller_cfg(None)).eval()
    set_energy_annotation(model, True)
    with pytest.raises(ValueError, match='EnergyCalibrationHook'):
        _predict(model)


def test_no_energy_loss_is_named():
    model = build_model(
        tiny_distiller_cfg(
            None, distill_losses=dict(loss_kd=dict(type='KDLoss')))).eval()
    set_energy_annotation(model, True)
    with pytest.raises(ValueError, match='no energy loss'):
        _predict(model)
