"""Shared figure style, the one figure-saving helper, and small plot helpers.

Figures are named by content (``minimal_ratio_vs_loss``), saved as PNG at a fixed dpi with
no volatile metadata, into :func:`hw1.paths.figures_dir` (a scratch folder under smoke).
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


def save_figure(fig: plt.Figure, name: str) -> Path:
    """Save ``fig`` as ``<figures_dir>/<name>.png`` and return the path.

    Args:
        fig: the figure.
        name: what the figure shows, in snake_case (``"gradient_norm_mnist"``), no extension.

    Raises:
        ValueError: if ``name`` is not snake_case (e.g. has a path or an extension).
    """
    if not _NAME.match(name):
        raise ValueError(
            f"figure name {name!r} must be snake_case words naming the content, "
            "e.g. 'minimal_ratio_vs_loss' (no folder, no extension)")
    folder = figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    return path


def band(ax: plt.Axes, x: Sequence[float], runs: np.ndarray, label: str | None = None,
         color=None, **kw) -> None:
    """Plot the mean over runs as a line and min..max as a shaded band.

    Args:
        ax: axes to draw on.
        x: ``(T,)`` x values.
        runs: ``(R, T)`` one row per run (seed).
        label, color: line label and colour.
    """
    runs = np.asarray(runs, dtype=float)
    mean = np.nanmean(runs, axis=0)
    (line,) = ax.plot(x, mean, label=label, color=color, **kw)
    if len(runs) > 1:
        ax.fill_between(x, np.nanmin(runs, axis=0), np.nanmax(runs, axis=0),
                        color=line.get_color(), alpha=0.2, linewidth=0)


use_style()
