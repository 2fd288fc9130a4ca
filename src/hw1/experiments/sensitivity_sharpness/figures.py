"""Notebook 10's figures (:func:`make_figures`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from hw1.data import dataset_label
from hw1.intervals import t_interval
from hw1.plotting import save_figure

from .analysis import (
    FIXED,
    _capped,
    _epsilon_ratio,
    _regime_name,
    _regimes,
    _values,
    batches,
    rank_correlations,
)
from .run import MEASURES, REGIME_LABELS


def _style() -> tuple[dict[str, str], dict[str, float]]:
    """Colour per regime, and a multiplicative x offset that puts the regimes side by side
    on the log batch axis."""
    return ({"equal_epochs": "C0", "criterion": "C1", "criterion_scaled_lr": "C2"},
            {"equal_epochs": 0.9, "criterion": 1.0, "criterion_scaled_lr": 1.1})


def _plain_log_ticks(ax: plt.Axes, axis: str = "x") -> None:
    """Label a log axis at 1-2-5 steps (finer when the data span less than a decade) in plain
    3-significant-digit numbers, with no minor labels, so tick labels never overlap."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    from hw1.report import num

    get_lim = ax.get_xlim if axis == "x" else ax.get_ylim
    low, high = get_lim()
    decades = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
    for mantissas in ((1, 2, 5), (1, 1.5, 2, 3, 4, 5, 6, 8)):
        ticks = [t for k in decades for m in mantissas if low <= (t := m * 10.0 ** k) <= high]
        if len(ticks) >= 3:
            break
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(ticks[:: max(1, len(ticks) // 6)]))
    target.set_major_formatter(FuncFormatter(lambda v, _: num(v)))
    target.set_minor_formatter(NullFormatter())
    (ax.set_xlim if axis == "x" else ax.set_ylim)(low, high)


def _sparse_log_ticks(ax: plt.Axes, most: int = 4) -> None:
    """Label a log x axis with at most ``most`` ticks in ``%g`` form: the powers of ten in
    view when there are at least two, else 1-2-5 steps, else finer steps (when the data span
    less than a decade), thinned to ``most``.

    Args:
        ax: axes with a log x axis whose limits are set.
        most: the largest number of labelled ticks.
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter

    low, high = ax.get_xlim()
    decades = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
    for mantissas in ((1,), (1, 2, 5), (1, 1.5, 2, 3, 4, 5, 6, 8)):
        ticks = [t for k in decades for m in mantissas if low <= (t := m * 10.0 ** k) <= high]
        if len(ticks) >= 2 + (len(mantissas) > 1):
            break
    step = -(-len(ticks) // most)  # ceiling division
    ax.xaxis.set_major_locator(FixedLocator(ticks[::step]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(low, high)


def _log_batch_axis(ax: plt.Axes, x: np.ndarray) -> None:
    ax.set_xscale("log")
    ax.set_xticks(x, [str(v) for v in x])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("batch size (log)")


def _series(ax: plt.Axes, results: dict, key: str, regime: str, color: str, ls: str = "-",
            label: str | None = None, offset: float = 1.0, log: bool = False) -> None:
    """Per batch size: the mean and 95% t interval over seeds (with ``log``: the geometric
    mean and the interval of log10 values mapped back, so it is symmetric on a log axis),
    seeds as dots, capped runs as x."""
    x = np.asarray(batches(results, regime))
    if log:
        stats_ = [t_interval(np.log10(_values(results, regime, bs, key))) for bs in x]
        centre, half = np.array(stats_).T
        mean = 10.0 ** centre
        yerr = np.array([mean - 10.0 ** (centre - half), 10.0 ** (centre + half) - mean])
    else:
        mean, yerr = np.array([t_interval(_values(results, regime, bs, key)) for bs in x]).T
    ax.errorbar(x * offset, mean, yerr=yerr, fmt=f"o{ls}", color=color, ms=3, capsize=2,
                label=label)
    for bs in x:
        vals = _values(results, regime, bs, key)
        capped = _values(results, regime, bs, "reached") == 0
        ax.plot(np.full(len(vals), bs * offset), vals, "o", color=color, ms=3.5, alpha=0.35,
                mec="none")
        if regime != "equal_epochs" and capped.any():
            ax.plot(np.full(capped.sum(), bs * offset), vals[capped], "kx", ms=5)


def figure_vs_batch_size(results: dict) -> plt.Figure:
    """Losses, both gaps, steps and every measure (but the raw ε-sharpness) against the batch
    size, every regime side by side: ``sensitivity_sharpness_vs_batch_size``. Panels on a log
    y axis draw the geometric mean and the interval of log10 values over seeds."""
    from hw1.plotting import MAX_WIDTH_IN
    from hw1.report import num

    colors, offsets = _style()
    regimes = _regimes(results)
    x = np.asarray(results["batch_sizes"])
    label = dataset_label(results["source"], results["dataset"])
    seeds = len(_values(results, "criterion", x[0], "seed"))
    fig, axes = plt.subplots(3, 3, figsize=(MAX_WIDTH_IN, 10.2))
    panels = [("loss", "cross-entropy: train (solid), test (dashed)"),
              ("gap_loss", "loss gap: test − train loss"),
              ("gap_acc", "accuracy gap: train − test accuracy"),
              ("steps", "optimizer steps (log)"),
              *[(k, MEASURES[k]) for k in MEASURES if k != "sharpness_raw"]]
    logs = ("loss", "steps", "top_eigenvalue", "hessian_trace", "sharpness")
    for ax, (key, title) in zip(axes.flat, panels, strict=True):
        log = key in logs
        for regime in regimes:
            kw = {"color": colors[regime], "offset": offsets[regime], "log": log}
            if key == "loss":
                _series(ax, results, "train_loss", regime, **kw)
                _series(ax, results, "test_loss", regime, ls="--", **kw)
            else:
                _series(ax, results, key, regime, **kw)
        if key == "steps":
            ax.axhline(results["max_steps"], color="grey", lw=0.8)
            ax.text(x[0] * 0.8, results["max_steps"] * 0.8,
                    f"step cap ({num(results['max_steps'])})", fontsize=9, color="0.3",
                    va="top")
        if log:
            ax.set_yscale("log")
            _plain_log_ticks(ax, "y")
        _log_batch_axis(ax, x)
        ax.set_title(title, fontsize=9)
    handles = [plt.Line2D([], [], color=colors[g], marker="o",
                          label=f"{_regime_name(g)}") for g in regimes]
    handles.append(plt.Line2D([], [], color="grey", marker="o", ms=3.5, alpha=0.35, mec="none",
                              ls="", label="one seed"))
    if _capped(results):
        handles.append(plt.Line2D([], [], color="k", marker="x", ls="",
                                  label="run that hit the step cap"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    equal = sorted({r["epochs"] for r in results["rows"] if r["regime"] == "equal_epochs"})
    fig.suptitle(f"{label}: batch-size sweep, {seeds} seeds per point (mean ± 95% t interval "
                 f"over seeds; log panels: geometric mean, interval of log10)\nequal epochs: "
                 f"{', '.join(map(str, equal))} epochs each; criterion: "
                 f"{results['criterion']}", fontsize=10)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    save_figure(fig, "sensitivity_sharpness_vs_batch_size")
    return fig


def figure_epsilon_scaling(results: dict) -> plt.Figure:
    """Raw ε-sharpness at the larger ε over that at the smaller ε against the batch size,
    with the quadratic and linear predictions: ``sharpness_epsilon_scaling``."""
    colors, offsets = _style()
    x = np.asarray(results["batch_sizes"])
    label = dataset_label(results["source"], results["dataset"])
    big, small = results["epsilons"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    tops = []
    for regime in FIXED:
        mean, half = np.array([t_interval(_epsilon_ratio(results, regime, bs))
                               for bs in x]).T
        tops.append(np.nanmax(mean + np.nan_to_num(half)))
        ax.errorbar(x * offsets[regime], mean, yerr=half, fmt="o-", color=colors[regime],
                    ms=3, capsize=2, label=f"{_regime_name(regime)} regime")
    ax.axhline((big / small) ** 2, color="grey", ls="--",
               label=f"{(big / small) ** 2:g}: quadratic (curvature)")
    ax.axhline(big / small, color="grey", ls=":", label=f"{big / small:g}: linear (gradient)")
    _log_batch_axis(ax, x)
    ax.set(ylabel=f"raw increase at ε = {big:g} / at ε = {small:g}",
           ylim=(0, 1.05 * max(*tops, (big / small) ** 2)))
    ax.legend(loc="lower right")
    ax.set_title(f"{label}: does ε-sharpness scale like ε²?\n"
                 "mean ± 95% t interval over seeds", fontsize=10)
    save_figure(fig, "sharpness_epsilon_scaling")
    return fig


README_RC = {"font.size": 11.5, "axes.titlesize": 12, "axes.labelsize": 12,
             "xtick.labelsize": 11.5, "ytick.labelsize": 11.5, "legend.fontsize": 11.5,
             "figure.titlesize": 13}
"""Text sizes of the README figure: at least 11.5 pt in a figure about 1,050 px wide, so
still about 9.5 pt when a code host scales it to 880 px."""

SHORT_NAMES = {"sensitivity_jacobian": "Jacobian sensitivity",
               "sensitivity_loss_gradient": "loss-gradient sensitivity",
               "sharpness": "ε-sharpness (Keskar)",
               "sharpness_raw": "ε-sharpness (raw)",
               "top_eigenvalue": "top Hessian eigenvalue",
               "hessian_trace": "Hessian trace"}
"""Panel titles of :func:`figure_flatness_vs_gap` (the x labels give the full names)."""


def figure_flatness_vs_gap(results: dict, taus: list[dict] | None = None) -> plt.Figure:
    """Each measure against the accuracy gap, every fixed-rate model, in a 3 × 2 grid: each
    panel titled with the measure's short name and, in each regime's colour, its Kendall τ
    over that regime's models (the intervals and the pooled τ are in the notebook's table):
    ``flatness_vs_generalization_gap``.

    Args:
        results: :func:`run` output.
        taus: the :func:`rank_correlations` rows if already computed, else computed here.
    """
    from hw1.report import num

    def signed(v: float) -> str:
        return ("+" if v > 0 else "") + num(v)

    colors, _ = _style()
    x = np.asarray(results["batch_sizes"])
    label = dataset_label(results["source"], results["dataset"])
    taus = {(t["measure"], t["gap"], t["models"]): t
            for t in (taus if taus is not None else rank_correlations(results))}
    groups = {"criterion": REGIME_LABELS["criterion"],
              "equal_epochs": REGIME_LABELS["equal_epochs"]}
    markers = dict(zip(x, "os^Dv<>p", strict=False))
    fixed = [r for r in results["rows"] if r["regime"] in FIXED]
    with plt.rc_context(README_RC):
        fig, axes = plt.subplots(3, 2, figsize=(9.4, 11.0))
        for ax, key in zip(axes.flat, MEASURES, strict=True):
            for r in fixed:
                ax.plot(r[key], r["gap_acc"], markers[r["batch"]], color=colors[r["regime"]],
                        ms=7, alpha=0.7, mfc="none" if r["reached"] is False else None)
            ax.set(xscale="log", xlabel=MEASURES[key])
            _sparse_log_ticks(ax)
            ax.set_title(SHORT_NAMES.get(key, key), loc="left")
            right = ax.set_title(f"τ {signed(taus[(key, 'gap_acc', groups['criterion'])]['tau'])}",
                                 loc="right", color=colors["criterion"])
            ax.annotate(f"τ {signed(taus[(key, 'gap_acc', groups['equal_epochs'])]['tau'])}   ",
                        (0, 0), xycoords=right, ha="right", va="bottom",
                        color=colors["equal_epochs"], fontsize=right.get_fontsize())
        for ax in axes[:, 0]:
            ax.set_ylabel("accuracy gap\n(train − test)")
        handles = [plt.Line2D([], [], color=colors[g], marker="o", ls="", ms=7,
                              label=f"{_regime_name(g)} regime (and its τ)") for g in FIXED]
        handles += [plt.Line2D([], [], color="grey", marker=markers[bs], ls="", ms=7,
                               label=f"batch {bs}") for bs in x]
        if any(r["reached"] is False for r in fixed):
            handles.append(plt.Line2D([], [], color="grey", marker="o", mfc="none", ls="",
                                      ms=7, label="hollow: hit the step cap"))
        fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False)
        fig.suptitle(f"{label}: each measure against the accuracy gap, {len(fixed)} models "
                     "(τ: Kendall τ per regime)")
        fig.tight_layout(rect=(0, 0.07, 1, 1))
        save_figure(fig, "flatness_vs_generalization_gap")
    return fig


def make_figures(results: dict, taus: list[dict] | None = None) -> list[plt.Figure]:
    """All three figures: :func:`figure_vs_batch_size`, :func:`figure_epsilon_scaling` and
    :func:`figure_flatness_vs_gap` (``taus``: the :func:`rank_correlations` rows if already
    computed)."""
    return [figure_vs_batch_size(results), figure_epsilon_scaling(results),
            figure_flatness_vs_gap(results, taus)]
