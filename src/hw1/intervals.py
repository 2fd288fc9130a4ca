"""Confidence intervals and tests for the notebooks' comparison tables.

Over seeds: :func:`t_interval`, :func:`welch_difference`. Over the images of one test set:
:func:`mcnemar` and :func:`bootstrap_accuracy_difference` (paired comparisons of two models'
per-image correctness) and :func:`wilson` (one proportion). Several tests in one table:
:func:`holm`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats


def t_interval(values: Sequence[float]) -> tuple[float, float]:
    """Mean and half-width of the two-sided 95% Student-t interval of ``values`` ``(n,)``
    (half-width NaN for fewer than 2 values)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values.mean()), float("nan")
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(half)


def welch_difference(a: Sequence[float], b: Sequence[float]) -> dict[str, float | bool]:
    """``mean(a) - mean(b)`` with its 95% Welch t-interval (``scipy.stats.ttest_ind`` with
    unequal variances): ``difference``, ``ci95_low``, ``ci95_high``, ``excludes_0``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    low, high = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    return {"difference": float(a.mean() - b.mean()), "ci95_low": float(low),
            "ci95_high": float(high), "excludes_0": bool(low > 0 or high < 0)}


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of ``p_values`` ``(m,)``: sorted ascending, the i-th
    smallest becomes ``max over j <= i of min(1, (m - j + 1) p_(j))``; returned in the input
    order.

    Args:
        p_values: the uncorrected p-values of one family of tests.

    Returns:
        the adjusted p-values, ``(m,)``.
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p)
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.maximum.accumulate(adjusted)
    return out


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")


def wilson(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``successes / n`` (Wilson, 1927).

    With ``z`` the ``(1 + level) / 2`` normal quantile and ``p = successes / n``, the bounds
    are ``(p + z²/2n ∓ z sqrt(p(1 - p)/n + z²/4n²)) / (1 + z²/n)``; unlike the Wald interval
    it stays inside [0, 1] and is not empty at 0 or n successes.

    Args:
        successes: number of successes, ``0 <= successes <= n``.
        n: number of trials, positive.
        level: coverage, e.g. 0.95.

    Returns:
        ``(low, high)``.
    """
    _check_level(level)
    if isinstance(n, bool) or int(n) != n or n <= 0:
        raise ValueError(f"wilson needs a positive whole number of trials n, got {n}")
    if isinstance(successes, bool) or int(successes) != successes or not 0 <= successes <= n:
        raise ValueError(f"successes must be a whole number in [0, n] = [0, {n}], "
                         f"got {successes}")
    z = float(stats.norm.ppf((1 + level) / 2))
    p = successes / n
    centre = p + z * z / (2 * n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    low, high = (centre - half) / scale, (centre + half) / scale
    low = 0.0 if successes == 0 else low  # exact ends (rounding leaves ~1e-17 otherwise)
    high = 1.0 if successes == n else high
    return float(low), float(high)


def _correct_matrix(correct, what: str) -> np.ndarray:
    """Per-image correctness as a ``(S, N)`` float array (``(N,)`` is one seed)."""
    array = np.asarray(correct)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{what} must be per-image correctness of shape (N,) or (S, N) with "
                         f"S, N >= 1, got shape {np.shape(correct)}")
    if not np.isin(array, (0, 1)).all():
        raise ValueError(f"{what} must hold correctness values (bool, or 0 and 1)")
    return array.astype(float)


def mcnemar(correct_a, correct_b) -> dict[str, int | float]:
    """Exact McNemar test of two models on the same test images.

    Only the discordant images inform the comparison: ``b`` where model a is right and b is
    wrong, ``c`` where a is wrong and b is right. Under equal accuracy ``b`` is
    Binomial(b + c, 1/2); ``p`` is the exact two-sided binomial test
    (``scipy.stats.binomtest``), 1 when there are no discordant images.

    Args:
        correct_a: ``(N,)`` bool, model a's correctness on each test image.
        correct_b: ``(N,)`` bool, model b's, on the same images in the same order.

    Returns:
        ``{"b": int, "c": int, "p": float}``.
    """
    a, b = np.asarray(correct_a), np.asarray(correct_b)
    if a.ndim != 1 or a.shape != b.shape or len(a) == 0:
        raise ValueError(f"mcnemar needs two (N,) correctness arrays over the same images, got "
                         f"shapes {a.shape} and {b.shape}")
    for name, x in (("correct_a", a), ("correct_b", b)):
        if not np.isin(x, (0, 1)).all():
            raise ValueError(f"{name} must hold correctness values (bool, or 0 and 1)")
    a, b = a.astype(bool), b.astype(bool)
    n_b, n_c = int(np.sum(a & ~b)), int(np.sum(~a & b))
    p = 1.0 if n_b + n_c == 0 else float(stats.binomtest(n_b, n_b + n_c, 0.5).pvalue)
    return {"b": n_b, "c": n_c, "p": p}


def bootstrap_accuracy_difference(correct_a, correct_b, n_boot: int = 2000, seed: int = 0,
                                  level: float = 0.95) -> dict[str, float]:
    """Accuracy of a minus accuracy of b on the same test images, with a bootstrap over images.

    Each model's accuracy is the mean over its seeds and the images. The ``n_boot`` bootstrap
    replicates draw N images with replacement (a ``numpy.random.Generator`` seeded with
    ``seed``), the same draw for a and b, so the comparison is paired over images; the
    interval is the percentile interval of the replicated differences and ``p`` the
    two-sided bootstrap p-value ``2 min(share <= 0, share >= 0)``, capped at 1. Seeds are
    averaged, not resampled: the interval is over test images only.

    Args:
        correct_a: ``(S_a, N)`` (or ``(N,)``: one seed) per-image correctness of model a,
            rows are seeds.
        correct_b: ``(S_b, N)`` (or ``(N,)``) of model b on the same N images; S_b may differ
            from S_a.
        n_boot: number of bootstrap replicates.
        seed: seed of the generator that draws the images.
        level: coverage of the interval.

    Returns:
        ``{"difference", "ci95_low", "ci95_high", "p"}`` (``ci95_*`` hold the ``level``
        interval).
    """
    _check_level(level)
    if isinstance(n_boot, bool) or int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive whole number, got {n_boot}")
    a = _correct_matrix(correct_a, "correct_a")
    b = _correct_matrix(correct_b, "correct_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"correct_a and correct_b must cover the same images, got "
                         f"{a.shape[1]} and {b.shape[1]} images")
    per_image = a.mean(axis=0) - b.mean(axis=0)  # (N,): paired difference per image
    n = len(per_image)
    generator = np.random.default_rng(seed)
    replicates = np.empty(int(n_boot))
    for start in range(0, int(n_boot), 256):  # blocks of (256, N) indices bound the memory
        stop = min(start + 256, int(n_boot))
        index = generator.integers(0, n, size=(stop - start, n))
        replicates[start:stop] = per_image[index].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(replicates, [alpha, 1 - alpha])
    share = min(np.mean(replicates <= 0), np.mean(replicates >= 0))
    return {"difference": float(per_image.mean()), "ci95_low": float(low),
            "ci95_high": float(high), "p": float(min(1.0, 2 * share))}
