"""Shared figure style, the one figure-saving helper, and small plot helpers.

Figures are named by content (``minimal_ratio_vs_loss``), saved as PNG at a fixed dpi with
no volatile metadata, into :func:`hw1.paths.figures_dir` (a scratch folder under smoke).

A figure the README shows must read at the ~880 px a code host gives it: at most
:data:`MAX_WIDTH_PX` wide as saved (:data:`MAX_WIDTH_IN` inches at :data:`DPI`), with text of
9 pt or more (the style's smallest size), in grids rather than long rows of panels.
:func:`save_figure` refuses a wider one unless it is marked as a notebook-only figure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from hw1.paths import figures_dir

DPI = 110
MAX_WIDTH_PX = 1320
"""Widest PNG the README may show (``~1,300 px``: text of 9 pt then renders ≥ 9 px high at
880 px)."""
MAX_WIDTH_IN = 11.6
"""A figure width (inches) that stays under :data:`MAX_WIDTH_PX` at :data:`DPI` after the
tight bounding box."""
STYLE = {
    "figure.figsize": (6.4, 4.0),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "font.size": 9,
    "axes.titlesize": 10,
    "savefig.bbox": "tight",
}
_NAME = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")


def use_style() -> None:
    """Apply the project's matplotlib style (idempotent)."""
    mpl.rcParams.update(STYLE)


def check_name(name: str) -> str:
    """Return ``name`` if it is snake_case words naming a content, else raise ValueError."""
    if not _NAME.match(name):
        raise ValueError(
            f"name {name!r} must be snake_case words naming the content, "
            "e.g. 'minimal_ratio_vs_loss' (no folder, no extension)")
    return name


def png_width(path: Path) -> int:
    """Width in pixels of a PNG file (from its header)."""
    return int.from_bytes(Path(path).read_bytes()[16:20], "big")


def save_figure(fig: plt.Figure, name: str, wide_ok: bool = False) -> Path:
    """Save ``fig`` as ``<figures_dir>/<name>.png`` and return the path.

    Args:
        fig: the figure.
        name: what the figure shows, in snake_case (``"gradient_norm_mnist"``), no extension.
        wide_ok: allow more than :data:`MAX_WIDTH_PX` (a fuller version for the notebook only,
            never shown in the README).

    Raises:
        ValueError: if ``name`` is not snake_case (e.g. has a path or an extension), or the
            saved figure is wider than :data:`MAX_WIDTH_PX` without ``wide_ok`` (the file is
            still written, so nothing drawn is lost).
    """
    check_name(name)
    folder = figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    width = png_width(path)
    if width > MAX_WIDTH_PX and not wide_ok:
        raise ValueError(
            f"{path.name} is {width} px wide, more than the {MAX_WIDTH_PX} px that read at a "
            "code host's 880 px: arrange the panels in a grid or narrow the figure "
            f"(at most {MAX_WIDTH_IN} in at {DPI} dpi)")
    return path


BAND_NOTE = "band: 95% t interval over seeds"
"""What :func:`band` shades, for a caption or legend."""


def t_band(runs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95% Student-t interval over runs, per x.

    Args:
        runs: ``(R, T)`` one row per run (seed); NaN entries are left out.

    Returns:
        ``(mean, low, high)``, each ``(T,)``; low = high = mean where fewer than 2 runs have
        a value.
    """
    import warnings

    from scipy import stats

    runs = np.asarray(runs, dtype=float)
    n = np.sum(~np.isnan(runs), axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # columns with < 2 values: no band
        mean = np.nanmean(runs, axis=0)
        sd = np.nanstd(runs, axis=0, ddof=1) if len(runs) > 1 else np.zeros_like(mean)
        half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
    half = np.where(n > 1, half, 0.0)
    return mean, mean - half, mean + half


def band(ax: plt.Axes, x: Sequence[float], runs: np.ndarray, label: str | None = None,
         color=None, **kw) -> None:
    """Plot the mean over runs as a line and its 95% t interval over runs as a shaded band
    (the interval the notebooks' tables quote; :data:`BAND_NOTE` says so in a caption).

    Args:
        ax: axes to draw on.
        x: ``(T,)`` x values.
        runs: ``(R, T)`` one row per run (seed).
        label, color: line label and colour.
    """
    mean, low, high = t_band(runs)
    (line,) = ax.plot(x, mean, label=label, color=color, **kw)
    if len(np.asarray(runs)) > 1:
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)


use_style()
