"""Notebook 09's figures (:func:`make_figures`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hw1.data import dataset_label
from hw1.plotting import save_figure

from .analysis import _label
from .run import ALIGNED, PAIRS

README_RC = {"font.size": 11.5, "axes.titlesize": 12, "axes.labelsize": 12,
             "xtick.labelsize": 11.5, "ytick.labelsize": 11.5, "legend.fontsize": 11.5,
             "figure.titlesize": 13}
"""Text sizes of the README figures: at least 11.5 pt in a figure about 1,100 px wide, so
still about 9 pt when a code host scales it to 880 px."""


def _pair_title(results: dict, pair: str) -> str:
    """The pair's name, then only the setting that changes from θ₀ to θ₁ (the shared one in
    brackets), e.g. ``"batch size, same init\nbatch 64 → 1024 (lr 0.001)"``."""
    a, b = (results["endpoints"][k]["setting"] for k in PAIRS[pair])
    batch = (a["batch_size"], b["batch_size"])
    lr = (f"{a['lr']:g}", f"{b['lr']:g}")
    if batch[0] != batch[1] and lr[0] == lr[1]:
        change = f"batch {batch[0]} → {batch[1]} (lr {lr[0]})"
    elif lr[0] != lr[1] and batch[0] == batch[1]:
        change = f"lr {lr[0]} → {lr[1]} (batch {batch[0]})"
    elif batch[0] == batch[1] and lr[0] == lr[1]:
        change = f"both {_label(a)}"
    else:
        change = f"{_label(a)} → {_label(b)}"
    return f"{pair.replace('control: same settings,', 'control,')}\n{change}"


def _curve_band(ax: plt.Axes, x: np.ndarray, runs: np.ndarray, metric: str,
                color: str, ls: str) -> np.ndarray:
    """Draw one split's curve over seeds with its band.

    A loss is drawn on log10 loss: the line is the geometric mean over seeds (the mean of
    log10 loss) and the band the 95% t interval of log10 loss over seeds, mapped back to the
    loss, so the band stays positive on the log axis (a loss of exactly 0 is left out). An
    accuracy is drawn as the mean and its 95% t interval over seeds, clipped to [0, 1].

    Args:
        ax: axes to draw on.
        x: ``(T,)`` the α grid.
        runs: ``(R, T)`` one row per seed.
        metric: ``"loss"`` or ``"acc"``.
        color, ls: line colour and style.

    Returns:
        ``(T,)`` the top of what is drawn (the band's upper end), to tell where a capped axis
        clips it.
    """
    from hw1.plotting import t_band

    runs = np.asarray(runs, dtype=float)
    if metric == "loss":
        # a zero loss has no place on a log axis: it is left out, like a missing value
        positive = np.where(runs > 0, runs, np.nan)
        mean, low, high = (10.0 ** v for v in t_band(np.log10(positive)))
    else:
        mean, low, high = t_band(runs)
        low, high = np.clip(low, 0, 1), np.clip(high, 0, 1)
    ax.plot(x, mean, color=color, ls=ls)
    if len(runs) > 1:
        ax.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0)
    return high


def _curves_figure(results: dict, metric: str, name: str) -> plt.Figure:
    """One interpolation metric (``"loss"`` or ``"acc"``) along θ(α) for the five pairs, in a
    2 × 3 grid with one shared y-axis; the sixth panel holds the legend. A loss axis stops
    at 10² (the notebook's caption says which curves run above it)."""
    # same init on top, independent init below, one column per changed setting (control: 3rd)
    grid = {"batch size, same init": (0, 0), "learning rate, same init": (0, 1),
            "batch size, independent init": (1, 0), "learning rate, independent init": (1, 1),
            "control: same settings, independent init": (1, 2)}
    alphas = np.asarray(results["alphas"])
    label = dataset_label(results["source"], results["dataset"])
    seeds = len(results["endpoints"]["base"]["rows"])
    cap = 1e2  # the loss axis stops here, so the barrier range (0.01 to 1) fills the panels
    with plt.rc_context(README_RC):
        return _draw_curves(results, metric, name, grid, alphas, label, seeds, cap)


def _draw_curves(results: dict, metric: str, name: str, grid: dict, alphas: np.ndarray,
                 label: str, seeds: int, cap: float) -> plt.Figure:
    """The body of :func:`_curves_figure`, drawn under :data:`README_RC`."""
    fig, axes = plt.subplots(2, 3, figsize=(10.0, 7.4), sharex=True, sharey=True)
    for pair in PAIRS:
        per_seed = results["curves"][pair]
        row, col = grid[pair]
        ax = axes[row, col]
        drawn = [("train", "C0", "-", per_seed), ("test", "C3", "--", per_seed)]
        if pair + ALIGNED in results["curves"]:
            drawn.append(("train", "C2", "-.", results["curves"][pair + ALIGNED]))
        for split, color, ls, runs in drawn:
            _curve_band(ax, alphas, np.array([c[f"{split}_{metric}"] for c in runs]),
                        metric, color, ls)
        for x in (0, 1):
            ax.axvline(x, color="grey", lw=0.8, ls=":")
        ax.set_title(_pair_title(results, pair))
    if metric == "loss":
        axes[0, 0].set_yscale("log")
        axes[0, 0].set_ylim(top=cap)
    else:  # the bands are clipped to the possible accuracies
        axes[0, 0].set_ylim(0, 1.02)
    for ax in axes[:, 0]:
        ax.set_ylabel("cross-entropy (log scale)" if metric == "loss" else "accuracy")
    axes[0, 0].set_xticks([-1, 0, 1, 2])
    for ax in axes[1]:
        ax.set_xlabel("α")
    key = axes[0, 2]
    key.axis("off")
    mean_label = "geometric mean" if metric == "loss" else "mean"
    handles = [plt.Line2D([], [], color="C0", ls="-", label=f"train ({mean_label})"),
               plt.Line2D([], [], color="C3", ls="--", label=f"test ({mean_label})"),
               plt.Line2D([], [], color="C2", ls="-.",
                          label="train, θ₁'s hidden units\nmatched to θ₀'s"),
               plt.Rectangle((0, 0), 1, 1, color="grey", alpha=0.3,
                             label=f"95% t interval, {seeds} seeds"),
               plt.Line2D([], [], color="grey", ls=":", label="endpoints α = 0, 1")]
    key.legend(handles=handles, loc="center")
    fig.suptitle(f"{label}: {'cross-entropy' if metric == 'loss' else 'accuracy'} along "
                 "θ(α) = (1−α)·θ₀ + α·θ₁")
    fig.tight_layout()
    save_figure(fig, name)
    return fig


def loss_curves_figure(results: dict) -> plt.Figure:
    """Train and test cross-entropy along θ(α) for the five pairs, one shared log y-axis, so
    the barriers of the panels compare directly (the README's interpolation figure)."""
    return _curves_figure(results, "loss", "interpolation_curves")


def accuracy_curves_figure(results: dict) -> plt.Figure:
    """Train and test accuracy along θ(α) for the five pairs, one shared y-axis."""
    return _curves_figure(results, "acc", "interpolation_accuracy_curves")


def filter_normalized_figure(results: dict, t_abs: float = 0.5) -> plt.Figure:
    """The train-loss increase ΔL(|t|) along filter-normalized directions around each
    endpoint (mean of both sides and of the directions per model), one line per endpoint
    kind: the geometric mean over its seeds and the 95% t interval of log10 ΔL mapped back,
    the quantity and interval :func:`~.analysis.line_table` prints; same-init endpoints on
    the left, independent-init ones (and the control) on the right; dotted line at |t| =
    ``t_abs``, where :func:`~.analysis.differences_from_base` compares them. Legend norms:
    the mean ‖θ‖₂ the endpoint table prints."""
    from hw1.report import num

    from .analysis import _kind_label, _line_increase

    label = dataset_label(results["source"], results["dataset"])
    t = np.asarray(results["t"])
    radii = np.unique(np.round(np.abs(t[t != 0]), 12))
    seeds = len(results["endpoints"]["base"]["rows"])
    fig, axes = plt.subplots(1, 2, figsize=(11.6, 5.8), sharey=True)
    panels = (("same initialization", ("base", "large_batch", "large_lr")),
              ("independent initialization", ("base_independent", "large_batch_independent",
                                              "large_lr_independent")))
    for ax, (title, kinds) in zip(axes, panels, strict=True):
        for kind, color in zip(kinds, ("C0", "C1", "C2"), strict=True):
            e = results["endpoints"][kind]
            runs = np.stack([_line_increase(results, kind, r) for r in radii], axis=1)
            _curve_band(ax, radii, runs, "loss", color, "-")
            norm = np.mean([r["weight_norm"] for r in e["rows"]])
            ax.plot([], [], color=color,
                    label=f"{_kind_label(kind)}: {_label(e['setting'])} (‖θ‖₂ {num(norm)})")
        ax.axvline(t_abs, color="grey", lw=0.8, ls=":",
                   label=f"|t| = {t_abs:g} (difference table)")
        ax.set(yscale="log", xlabel="|t|  (points θ ± |t|·d)", title=title)
        ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    axes[0].set_ylabel("train-loss increase ΔL (log scale)")
    fig.suptitle(f"{label}: train-loss increase along filter-normalized random directions d "
                 f"around each endpoint (Li et al., 2018; mean over "
                 f"{results['line_directions']} directions and both signs)\n"
                 f"line: geometric mean over {seeds} seeds; band: 95% t interval of log10 ΔL "
                 f"over {seeds} seeds", fontsize=10)
    fig.tight_layout()
    save_figure(fig, "interpolation_filter_normalized_lines")
    return fig


def make_figures(results: dict) -> list[plt.Figure]:
    """Every figure of the notebook: the loss and the accuracy along the interpolation line
    (:func:`loss_curves_figure`, :func:`accuracy_curves_figure`) and the filter-normalized
    curves around each endpoint (:func:`filter_normalized_figure`)."""
    return [loss_curves_figure(results), accuracy_curves_figure(results),
            filter_normalized_figure(results)]
