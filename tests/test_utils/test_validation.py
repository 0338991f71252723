import math

import pytest
import torch

from mmenergykd.utils.validation import (MAX_TEMPERATURE, check_finite_logits,
                                         check_non_negative, check_positive,
                                         check_ratio, check_temperature,
                                         is_number)


def test_is_number_excludes_bools():
    assert is_number(1) and is_number(0.5)
    assert not is_number(True) and not is_number('1') and not is_number(None)


@pytest.mark.parametrize('value', [0, -1.0, math.nan, math.inf, True, '2'])
def test_check_positive_names_the_setting(value):
    with pytest.raises(ValueError, match='`my_setting` must be a finite'):
        check_positive('my_setting', value)


def test_check_non_negative_accepts_zero():
    check_non_negative('w', 0)
    for bad in (-0.1, math.nan, math.inf):
        with pytest.raises(ValueError, match='`w`'):
            check_non_negative('w', bad)


def test_check_temperature_range():
    check_temperature('t', MAX_TEMPERATURE)
    with pytest.raises(ValueError, match='at most'):
        check_temperature('t', MAX_TEMPERATURE * 2)


@pytest.mark.parametrize('value', [-0.01, 1.01, math.nan, False])
def test_check_ratio(value):
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        check_ratio('r', value)


def test_check_finite_logits():
    check_finite_logits(torch.zeros(2, 3))
    with pytest.raises(ValueError, match='non-finite'):
        check_finite_logits(torch.tensor([[0.0, math.inf]]))
