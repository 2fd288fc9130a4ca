"""Confidence intervals over seeds, shared by the notebooks' comparison tables."""

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
