"""hw1.intervals against hand-computed Student-t, Welch and Wilson intervals, exact McNemar
p-values, Holm adjustments and bootstrap cases whose distribution is known."""

import math

import numpy as np
import pytest

from hw1.intervals import (
    bootstrap_accuracy_difference,
    holm,
    mcnemar,
    t_interval,
    welch_difference,
    wilson,
)


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


# --- tests over the images of one test set ---------------------------------------------------

Z95 = 1.959963984540054  # the 0.975 normal quantile


def _wilson_closed_form(x: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's interval in its count form: (x + z²/2 ∓ z sqrt(x(n - x)/n + z²/4)) / (n + z²)."""
    half = z * math.sqrt(x * (n - x) / n + z * z / 4)
    return (x + z * z / 2 - half) / (n + z * z), (x + z * z / 2 + half) / (n + z * z)


@pytest.mark.parametrize("x, n, expected", [
    (0, 10, (0.0, 0.2775)),  # high end z²/(n + z²)
    (5, 10, (0.2366, 0.7634)),
    (81, 263, (0.2553, 0.3662)),
    (10, 10, (0.7225, 1.0)),
])
def test_wilson_matches_the_closed_form_and_textbook_values(x, n, expected):
    low, high = wilson(x, n)
    exact = _wilson_closed_form(x, n)
    assert low == pytest.approx(exact[0], abs=1e-12) and high == pytest.approx(exact[1], abs=1e-12)
    assert (round(low, 4), round(high, 4)) == expected
    assert wilson(0, 10)[1] == pytest.approx(Z95 ** 2 / (10 + Z95 ** 2), rel=1e-12)


def test_wilson_other_level_and_bad_input():
    z90 = 1.6448536269514722
    low, high = wilson(3, 20, level=0.90)
    exact = _wilson_closed_form(3, 20, z90)
    assert (low, high) == pytest.approx(exact, abs=1e-12)
    for x, n in ((1, 0), (0, -3), (-1, 10), (11, 10), (2.5, 10)):
        with pytest.raises(ValueError, match="wilson|successes"):
            wilson(x, n)
    with pytest.raises(ValueError, match="level"):
        wilson(1, 10, level=1.0)


def test_mcnemar_counts_discordant_images_and_uses_the_exact_binomial():
    a = np.array([1, 1, 1, 0, 0, 1, 1, 1], dtype=bool)
    b = np.array([0, 0, 1, 1, 0, 1, 0, 1], dtype=bool)
    out = mcnemar(a, b)  # b = 3 (a right, b wrong), c = 1; p = 2 P(X <= 1), X ~ Bin(4, 1/2)
    assert out == {"b": 3, "c": 1, "p": pytest.approx(2 * (1 + 4) / 16, rel=1e-12)}
    assert isinstance(out["b"], int) and isinstance(out["c"], int)
    swapped = mcnemar(b, a)
    assert (swapped["b"], swapped["c"]) == (1, 3) and swapped["p"] == pytest.approx(0.625)
    # 10 discordant, all one way: p = 2 / 2**10
    a10, b10 = np.ones(12, bool), np.r_[np.zeros(10, bool), np.ones(2, bool)]
    assert mcnemar(a10, b10)["p"] == pytest.approx(2 / 1024, rel=1e-12)
    assert mcnemar(a, a) == {"b": 0, "c": 0, "p": 1.0}


def test_mcnemar_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same images"):
        mcnemar(np.ones(5, bool), np.ones(6, bool))
    with pytest.raises(ValueError, match="same images"):
        mcnemar(np.ones((2, 5), bool), np.ones((2, 5), bool))
    with pytest.raises(ValueError, match="correctness"):
        mcnemar(np.array([0.0, 0.5]), np.array([1.0, 0.0]))


def test_bootstrap_of_identical_models_is_zero_with_an_empty_interval():
    rng = np.random.default_rng(3)
    correct = rng.random((3, 50)) < 0.7
    out = bootstrap_accuracy_difference(correct, correct, n_boot=500)
    assert out == {"difference": 0.0, "ci95_low": 0.0, "ci95_high": 0.0, "p": 1.0}


def test_bootstrap_of_a_known_difference():
    # a right on every image, b wrong on every one: every replicate is exactly 1
    out = bootstrap_accuracy_difference(np.ones(40, bool), np.zeros(40, bool), n_boot=300)
    assert out == {"difference": 1.0, "ci95_low": 1.0, "ci95_high": 1.0, "p": 0.0}
    # seeds averaged, S_a != S_b: a = 3/4 on average, b = 1/2 -> +0.25
    a = np.array([[1, 1, 1, 0], [1, 1, 0, 1]], dtype=bool)
    b = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 0, 0]], dtype=bool)
    assert bootstrap_accuracy_difference(a, b)["difference"] == pytest.approx(0.25)


def test_bootstrap_of_two_images_matches_its_exact_distribution():
    # per-image differences (1, 0): a replicate's mean is 0, 1/2, 1 w.p. 1/4, 1/2, 1/4,
    # so the 95% percentile interval is [0, 1] and p = 2 P(mean <= 0) = 1/2
    out = bootstrap_accuracy_difference([1, 1], [0, 1], n_boot=20000, seed=1)
    assert out["difference"] == 0.5
    assert (out["ci95_low"], out["ci95_high"]) == (0.0, 1.0)
    assert out["p"] == pytest.approx(0.5, abs=0.02)


def test_bootstrap_is_reproducible_and_seeded():
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 200)) < 0.8, rng.random((2, 200)) < 0.7
    first = bootstrap_accuracy_difference(a, b, n_boot=1000, seed=5)
    assert bootstrap_accuracy_difference(a, b, n_boot=1000, seed=5) == first
    other = bootstrap_accuracy_difference(a, b, n_boot=1000, seed=6)
    assert other["difference"] == first["difference"]
    assert (other["ci95_low"], other["ci95_high"]) != (first["ci95_low"], first["ci95_high"])
    assert first["ci95_low"] <= first["difference"] <= first["ci95_high"]


def test_bootstrap_rejects_bad_input():
    with pytest.raises(ValueError, match="same images"):
        bootstrap_accuracy_difference(np.ones((2, 5)), np.ones((2, 6)))
    with pytest.raises(ValueError, match="shape"):
        bootstrap_accuracy_difference(np.ones((2, 3, 4)), np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="correctness"):
        bootstrap_accuracy_difference(np.full(4, 0.5), np.ones(4))
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_accuracy_difference(np.ones(4), np.ones(4), n_boot=0)


def test_holm_lives_in_intervals_and_report_re_exports_it():
    from hw1 import report

    assert report.holm is holm
    assert holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
