"""hw1.intervals against hand-computed Student-t and Welch intervals."""

import math

import pytest

from hw1.intervals import t_interval, welch_difference


def test_t_interval_of_three_values():
    mean, half = t_interval([1.0, 2.0, 3.0])  # sd 1, t(0.975, 2) = 4.30265272975
    assert mean == 2.0
    assert half == pytest.approx(4.302652729749464 / math.sqrt(3), rel=1e-12)
    assert math.isnan(t_interval([5.0])[1])


def test_welch_difference_matches_the_welch_satterthwaite_formula():
    a, b = [1.0, 2.0, 3.0], [0.0, 0.0, 3.0]
    out = welch_difference(a, b)
    va, vb = 1.0 / 3, 3.0 / 3  # variances of the means
    df = (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 2)
    from scipy import stats

    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert out["difference"] == pytest.approx(1.0)
    assert out["ci95_low"] == pytest.approx(1.0 - half, rel=1e-10)
    assert out["ci95_high"] == pytest.approx(1.0 + half, rel=1e-10)
    assert out["excludes_0"] is False
    assert welch_difference([10.0, 10.1, 9.9], [0.0, 0.1, -0.1])["excludes_0"] is True
