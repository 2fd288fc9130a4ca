"""Tables for notebook output: one formatting convention for every number the Findings quote.

Notebooks show tables as pandas DataFrames (rendered as HTML tables by Jupyter and by code
hosts). Numbers carry 3 significant digits; an interval over seeds is written
``mean ± half-width``; a difference with its interval ``+0.0402 [0.0171, 0.0634]``. A table
longer than :data:`MAX_ROWS` is written whole to a CSV file named by content
(:func:`long_table`) and the notebook shows its first rows and the file's name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hw1.intervals import holm  # noqa: F401  (re-exported: moved to hw1.intervals)
from hw1.paths import REPO_ROOT, figures_dir

DIGITS = 3
MAX_ROWS = 12


def num(value: float, digits: int = DIGITS) -> str:
    """``value`` with ``digits`` significant digits, trailing zeros kept (``0.500``, ``14.0``),
    in plain notation where it is readable (``0.0402``, ``440``, ``6,250``, ``1.4e-6``);
    integers stay whole (``669706`` → ``669,706``)."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    value = float(value)
    if math.isnan(value):
        return "–"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if value == 0:
        return "0"
    rounded = float(f"{value:.{digits}g}")  # to `digits` significant digits
    exponent = math.floor(math.log10(abs(rounded)))
    if -4 <= exponent < 6:  # plain notation: 440 and 0.000667, not 4.4e+02 and 6.67e-04
        text = f"{rounded:,.{max(digits - 1 - exponent, 0)}f}"  # 0.500 and 14.0 keep 3 digits
    else:
        mantissa, exp = f"{value:.{digits}g}".split("e")
        text = f"{mantissa}e{int(exp)}"
    return text.replace("-", "−") if text.startswith("-") else text


def mean_pm(mean: float, half: float, digits: int = DIGITS) -> str:
    """``"mean ± half"``: the mean to ``digits`` significant digits, the half-width to 2
    (a half-width of NaN, from a single value, is left out)."""
    if half is None or (isinstance(half, float) and math.isnan(half)):
        return num(mean, digits)
    return f"{num(mean, digits)} ± {num(half, 2)}"


def ci(values: Sequence[float], digits: int = DIGITS) -> str:
    """Mean ± half-width of the 95% Student-t interval over ``values`` ``(n,)`` (seeds)."""
    from hw1.intervals import t_interval

    return mean_pm(*t_interval(values), digits=digits)


def diff(difference: float, low: float, high: float, digits: int = DIGITS) -> str:
    """A difference with its interval: ``"+0.0402 [0.0171, 0.0634]"``."""
    sign = "+" if difference > 0 else ""
    return f"{sign}{num(difference, digits)} [{num(low, digits)}, {num(high, digits)}]"


def welch(a: Sequence[float], b: Sequence[float], digits: int = DIGITS) -> dict[str, str]:
    """``mean(a) − mean(b)`` with its 95% Welch interval as table cells:
    ``{"difference [95% CI]": "+0.0402 [0.0171, 0.0634]", "CI excludes 0": "yes"}``."""
    from hw1.intervals import welch_difference

    w = welch_difference(a, b)
    return {"difference [95% CI]": diff(w["difference"], w["ci95_low"], w["ci95_high"], digits),
            "CI excludes 0": "yes" if w["excludes_0"] else "no"}


def paired(a: Sequence[float], b: Sequence[float], digits: int = DIGITS) -> dict[str, str]:
    """``mean(a − b)`` over pairs ``(a[i], b[i])`` (the same seeds in the same order) with its
    95% paired t-interval (``scipy.stats.ttest_rel``) as table cells, like :func:`welch`:
    ``{"difference [95% CI]": "+0.0402 [0.0171, 0.0634]", "CI excludes 0": "yes"}``."""
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    low, high = stats.ttest_rel(a, b).confidence_interval(0.95)
    return {"difference [95% CI]": diff(float((a - b).mean()), float(low), float(high), digits),
            "CI excludes 0": "yes" if low > 0 or high < 0 else "no"}


def _cell(value: object) -> object:
    if isinstance(value, float | np.floating | int | np.integer | bool | np.bool_):
        return num(value)
    return value


def table(rows: Iterable[Mapping[str, object]] | pd.DataFrame, index: str | None = None
          ) -> pd.DataFrame:
    """Rows (dicts) as a DataFrame for display: numbers to 3 significant digits, text as
    given, a key missing from a row left blank.

    Args:
        rows: one mapping per row (the union of keys, in first-seen order, are the columns),
            or a DataFrame.
        index: a column to use as the row labels (default: none, rows numbered from 0).
    """
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    frame = frame.astype(object).where(frame.notna(), "")
    frame = frame.map(_cell)
    if index is not None:
        frame = frame.set_index(index)
    else:
        frame.index = [""] * len(frame)  # no meaningless 0..n-1 column
    return frame


def tables_dir() -> Path:
    """Where long tables are written: ``tables/`` beside the figures (a scratch folder
    under the smoke profile, like the figures)."""
    return figures_dir() / "tables"


def long_table(rows: Iterable[Mapping[str, object]], name: str, show: int = MAX_ROWS,
               keep: Sequence[int] | None = None) -> pd.DataFrame:
    """Write every row to ``<tables_dir>/<name>.csv`` (full precision) and return the
    display table of the first ``show`` rows (or of the rows ``keep``), with a caption
    naming the file.

    Args:
        rows: one mapping per row.
        name: what the table holds, in snake_case (``"kendall_tau_all_measures"``).
        show: how many leading rows to display when ``keep`` is not given.
        keep: the positions of the rows to display instead.
    """
    from hw1.plotting import check_name

    check_name(name)
    frame = pd.DataFrame(list(rows))
    folder = tables_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    shown = frame.iloc[list(keep)] if keep is not None else frame.head(show)
    out = table(shown)
    out.attrs["file"] = path
    try:
        where = path.relative_to(REPO_ROOT)
    except ValueError:  # HW1_FIGURES_DIR outside the repository
        where = path
    print(f"{len(shown)} of {len(frame)} rows shown; all of them: {where}")
    return out


def repo_relative(text: str) -> str:
    """``text`` with this repository's absolute path left out (``data/MNIST/raw``, not a path
    that names the machine), for printing data sources; a data folder set elsewhere
    (``HW1_DATA_DIR``) is printed as ``data/``, its place in the repository by default."""
    from hw1.paths import data_dir

    return text.replace(f"{data_dir()}/", "data/").replace(f"{REPO_ROOT}/", "")
