"""Notebook 09's figures (:func:`make_figures`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hw1.data import dataset_label
from hw1.plotting import save_figure

from .analysis import _label
from .run import ALIGNED, PAIRS


def _pair_title(results: dict, pair: str) -> str:
    a, b = (results["endpoints"][k]["setting"] for k in PAIRS[pair])
    return f"{pair}\n{_label(a)} → {_label(b)}"


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
    2 × 3 grid with one shared y-axis; the sixth panel holds the legend."""
    from hw1.plotting import MAX_WIDTH_IN

    # same init on top, independent init below, one column per changed setting (control: 3rd)
    grid = {"batch size, same init": (0, 0), "learning rate, same init": (0, 1),
            "batch size, independent init": (1, 0), "learning rate, independent init": (1, 1),
            "control: same settings, independent init": (1, 2)}
    alphas = np.asarray(results["alphas"])
    label = dataset_label(results["source"], results["dataset"])
    seeds = len(results["endpoints"]["base"]["rows"])
    cap = 1e2  # the loss axis stops here, so the barrier range (0.01 to 1) fills the panels
    fig, axes = plt.subplots(2, 3, figsize=(MAX_WIDTH_IN, 6.8), sharex=True, sharey=True)
    clipped = []
    for pair in PAIRS:
        per_seed = results["curves"][pair]
        row, col = grid[pair]
        ax = axes[row, col]
        drawn = [("train", "C0", "-", per_seed), ("test", "C3", "--", per_seed)]
        if pair + ALIGNED in results["curves"]:
            drawn.append(("train", "C2", "-.", results["curves"][pair + ALIGNED]))
        top = np.fmax.reduce([
            _curve_band(ax, alphas, np.array([c[f"{split}_{metric}"] for c in runs]),
                        metric, color, ls)
            for split, color, ls, runs in drawn])
        if metric == "loss" and np.any(top > cap):
            clipped.append((pair.split(",")[0], float(alphas[top > cap].max())))
        for x in (0, 1):
            ax.axvline(x, color="grey", lw=0.8, ls=":")
        ax.set_title(_pair_title(results, pair), fontsize=9)
    if metric == "loss":
        axes[0, 0].set_yscale("log")
        axes[0, 0].set_ylim(top=cap)
    else:  # the bands are clipped to the possible accuracies
        axes[0, 0].set_ylim(0, 1.02)
    for ax in axes[:, 0]:
        ax.set_ylabel("cross-entropy (log scale)" if metric == "loss" else "accuracy")
    for ax in axes[1]:
        ax.set_xlabel("α")
    key = axes[0, 2]
    key.axis("off")
    if metric == "loss":
        mean_label = "geometric mean over seeds"
        band_label = f"band: 95% t interval of log10 loss\nover {seeds} seeds"
    else:
        mean_label = "mean over seeds"
        band_label = f"band: 95% t interval over {seeds} seeds,\nclipped to [0, 1]"
    handles = [plt.Line2D([], [], color="C0", ls="-", label=f"train ({mean_label})"),
               plt.Line2D([], [], color="C3", ls="--", label=f"test ({mean_label})"),
               plt.Line2D([], [], color="C2", ls="-.",
                          label="train, θ₁'s hidden units matched to θ₀'s\n(independent init)"),
               plt.Rectangle((0, 0), 1, 1, color="grey", alpha=0.3, label=band_label),
               plt.Line2D([], [], color="grey", ls=":", label="endpoints α = 0 and α = 1")]
    key.legend(handles=handles, loc="center", fontsize=9)
    if metric == "loss":
        note = "all panels share one y-axis"
        if clipped:
            names = " and ".join(sorted({what for what, _ in clipped}))
            last = max(a for _, a in clipped)
            note += (f";\ncapped at 10²: in the {names} panels\nthe bands or curves "
                     f"run above it for α ≤ {last:.2g}".replace("-", "−"))
        key.text(0.5, 0.1, note, transform=key.transAxes,
                 ha="center", va="center", fontsize=9, color="0.3")
    what = "Loss" if metric == "loss" else "Accuracy"
    fig.suptitle(f"{label}: {what.lower()} along θ(α) = (1−α)·θ₀ + α·θ₁; every endpoint "
                 f"trained to {results['criterion']}", fontsize=10)
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
