"""Figures of the double-descent notebook, all saved through :func:`hw1.plotting.save_figure`:
error and loss against parameters (:func:`figure_by_width`), the controls (:func:`figure_controls`:
a zoom on the peak with the confirmation runs, clean labels, a second training-set size, and
the train error near interpolation), and the curves during training
(:func:`figure_over_training`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hw1.data import dataset_label
from hw1.experiments.double_descent.analysis import (
    _column,
    criteria,
    first_width,
    last_records,
    peak,
    recorded_epochs,
)
from hw1.intervals import t_interval
from hw1.plotting import save_figure


def _band(ax: plt.Axes, params: np.ndarray, per_width: list[np.ndarray], **kw) -> None:
    """The mean over seeds against parameters as a line, with its 95% t interval (the one
    the tables print) shaded.

    Args:
        ax: axes to draw on.
        params: ``(W,)`` parameter counts.
        per_width: ``W`` arrays of per-seed values.
        **kw: line style, colour and label, for ``ax.plot``.
    """
    mean, half = np.array([t_interval(v) for v in per_width]).T
    half = np.nan_to_num(half)
    (line,) = ax.plot(params, mean, **kw)
    ax.fill_between(params, mean - half, mean + half, color=line.get_color(), alpha=0.2,
                    linewidth=0)


def _parameter_axis(ax: plt.Axes) -> None:
    """Log x axis of parameter counts, labelled in plain numbers at 1, 3, 10, 30, ... × 10^k."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 3.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("number of parameters (log scale)")


def _width_axis(ax: plt.Axes, results: dict, min_gap: float = 0.12) -> None:
    """Mark the top of a parameters axis with the hidden widths ``w``: a tick at every width,
    labelled where the label has room (at least ``min_gap`` decades from another label),
    the widths the peaks and landmarks name taking precedence.

    Args:
        ax: axes whose x axis counts parameters (log scale).
        results: from :func:`run`.
        min_gap: the smallest distance between two labelled ticks, in decades of parameters.
    """
    from matplotlib.ticker import NullLocator

    widths = results["widths"]
    params = {e["width"]: e["n_params"] for e in widths}
    named = [r[k] for key in ("test_error", "test_loss") for r in peak(results, key)
             for k in ("peak width", "minus width")]
    named += [e["width"] for e in _fit_landmarks(results).values() if e is not None]
    labelled: list[int] = []
    for w in [*named, *(e["width"] for e in widths)]:
        if w not in labelled and all(abs(np.log10(params[w] / params[v])) >= min_gap
                                     for v in labelled):
            labelled.append(w)
    top = ax.secondary_xaxis("top")
    top.set_xticks([e["n_params"] for e in widths],
                   labels=[str(e["width"]) if e["width"] in labelled else ""
                           for e in widths])
    top.xaxis.set_minor_locator(NullLocator())
    top.set_xlabel("hidden width w")


def _fit_landmarks(results: dict) -> dict:
    """The first width meeting each robust fitting criterion: ``"changed"`` (changed labels
    fitted) and ``"train"`` (train error), None where no width does."""
    tests = list(criteria().values())
    return {"changed": first_width(results, tests[1])[0],
            "train": first_width(results, tests[0])[0]}


def _mark_threshold(ax: plt.Axes, results: dict, color: str = "grey", text: str = "n·K",
                    x: float | None = None, height: float = 1.0) -> None:
    """n·K as a dotted vertical line, named at the top of the panel (at ``x`` instead of
    the parameter count when the axis is not in parameters; the name at ``height`` in axes
    fraction)."""
    ax.axvline(results["threshold"] if x is None else x, color=color, ls=":", lw=1.2,
               label=f"n·K = {results['n_train']:,} images × {results['num_classes']} classes"
                     f" = {results['threshold']:,} parameters")
    ax.annotate(text, (results["threshold"] if x is None else x, height),
                xycoords=("data", "axes fraction"), xytext=(3, -3), textcoords="offset points",
                ha="left", va="top", color=color)


def _title(results: dict, what: str) -> str:
    seeds = len(results["widths"][0]["rows"])
    label = dataset_label(results["source"], results["dataset"])
    return (f"{label}, {results['n_train']:,} training images, {results['labels_changed']:.1%}"
            f" of labels changed: one-hidden-layer MLPs, {what}\n"
            f"{seeds} seeds per width; band: 95% t interval over seeds")


README_RC = {"font.size": 11.5, "axes.titlesize": 12, "axes.labelsize": 12,
             "xtick.labelsize": 11.5, "ytick.labelsize": 11.5, "legend.fontsize": 11.5,
             "figure.titlesize": 13}
"""Text sizes of the README figure: at least 11.5 pt in a figure about 1,050 px wide, so
still about 9.5 pt when a code host scales it to 880 px."""


def _mark_peak(ax: plt.Axes, results: dict, key: str, minimum_left: bool = False) -> None:
    """Ring the peak of ``key`` (:func:`~.analysis.peak`, the mean over seeds) and its
    classical optimum, each named by its width (the optimum's name below it, or below and
    to its left with ``minimum_left``)."""
    rows = peak(results, key)
    if not rows:
        return
    by_width = {e["width"]: e for e in results["widths"]}
    for width, where in ((rows[0]["peak width"], "peak"),
                         (int(rows[0]["minus"].split("width ")[1].rstrip(")")), "minimum")):
        e = by_width[width]
        y = float(_column(e, key).mean())
        ax.plot([e["n_params"]], [y], "o", mfc="none", mec="k", mew=1.5, ms=13, zorder=6)
        ax.annotate(f"{where}, w = {width}", (e["n_params"], y),
                    xytext=(-8, -12) if where == "minimum" and minimum_left else
                    (0, 12 if where == "peak" else -14), textcoords="offset points",
                    ha="right" if where == "minimum" and minimum_left else "center",
                    va="bottom" if where == "peak" else "top")


def figure_by_width(results: dict) -> plt.Figure:
    """Error and cross-entropy against parameters (log x; hidden widths on the top axis) after
    the whole budget, 2 × 2: (a) train error (on the noisy labels), train error on the
    changed labels only and test error (true labels) on the full 0-1 scale, the first widths
    meeting the robust fitting criteria marked by large open markers at zero error; (b) the
    test error alone on a zoomed axis; (c, the whole bottom row) train and test
    cross-entropy. The test curves' peak and classical minimum (:func:`~.analysis.peak`) are
    ringed in (b) and (c); n·K is the dotted line. Saved as ``double_descent``.

    Args:
        results: the main arm of :func:`run`.

    Returns:
        The figure.
    """
    widths = results["widths"]
    params = np.array([e["n_params"] for e in widths])
    marks = _fit_landmarks(results)
    texts = {"changed": ("D", "C2", "first width fitting ≥ 99.9% of changed labels"),
             "train": ("v", "k", "first width with train error ≤ 0.1%")}
    with plt.rc_context(README_RC):
        fig = plt.figure(figsize=(9.6, 9.4))
        grid = fig.add_gridspec(2, 2, height_ratios=(1, 1.15))
        full, zoom = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
        loss = fig.add_subplot(grid[1, :])
        band = {"ms": 4.5, "lw": 1.8}
        for ax, key in ((full, "error"), (loss, "loss")):
            _band(ax, params, [_column(e, f"train_{key}") for e in widths], color="C0",
                  marker="o", ls="-", label="train (noisy labels)", **band)
        _band(full, params, [1 - _column(e, "noisy_labels_fitted") for e in widths],
              color="C2", marker="^", ls="-", label="train, changed labels only", **band)
        for ax, key in ((full, "error"), (zoom, "error"), (loss, "loss")):
            _band(ax, params, [_column(e, f"test_{key}") for e in widths], color="C3",
                  marker="s", ls="--", label="test (true labels)", **band)
        for what, e in marks.items():
            if e is not None:
                marker, color, text = texts[what]
                full.plot([e["n_params"]], [0], marker, mfc="none", mec=color, mew=1.8, ms=12,
                          ls="none", clip_on=False, zorder=5, label=f"{text}: w = {e['width']}")
        _mark_peak(zoom, results, "test_error")
        _mark_peak(loss, results, "test_loss", minimum_left=True)
        for ax in (full, zoom, loss):
            _mark_threshold(ax, results)
            _parameter_axis(ax)
            _width_axis(ax, results, min_gap=0.12 if ax is loss else 0.2)
        full.set(ylabel="error", ylim=(-0.02, 1.0), title="(a) error, whole scale")
        # the zoom starts at the second width: the narrowest one's error is off the scale
        shown = [_column(e, "test_error") for e in widths[1:]]
        tops = [float(np.sum(t_interval(v))) for v in shown]
        bottoms = [float(np.subtract(*t_interval(v))) for v in shown]
        lo, hi = min(bottoms), max(tops)
        zoom.set(ylabel="test error", ylim=(lo - 0.1 * (hi - lo), hi + 0.2 * (hi - lo)),
                 xlim=(params[1] / 1.25, params[-1] * 1.25), title="(b) test error, zoomed")
        loss.set(ylabel="cross-entropy", ylim=(0, None), title="(c) cross-entropy")
        handles, labels = full.get_legend_handles_labels()
        order = [labels.index(t) for t in ("train (noisy labels)", "test (true labels)",
                                           "train, changed labels only")]
        order += [i for i in range(len(labels)) if i not in order]
        fig.legend([handles[i] for i in order], [labels[i] for i in order],
                   loc="lower center", ncol=2, frameon=False)
        seeds = len(widths[0]["rows"])
        label = dataset_label(results["source"], results["dataset"])
        fig.suptitle(f"{label}, {results['n_train']:,} training images, "
                     f"{results['labels_changed']:.1%} of labels changed: one-hidden-layer "
                     f"MLPs\nafter {results['epochs']} epochs; {seeds} seeds per width, "
                     "band: 95% t interval")
        fig.tight_layout(rect=(0, 0.09, 1, 1))
        save_figure(fig, "double_descent")
    return fig


def _arm_curve(ax: plt.Axes, arm: dict, key: str = "test_error", x: str = "params", **kw
               ) -> None:
    """One arm's mean over seeds of ``key`` at the end of training with its 95% t band,
    against parameters (``x="params"``) or parameters / n·K (``x="ratio"``)."""
    xs = np.array([e["n_params"] for e in arm["widths"]], dtype=float)
    if x == "ratio":
        xs = xs / arm["threshold"]
    _band(ax, xs, [_column(e, key) for e in arm["widths"]], **kw)


def _legend_below(ax: plt.Axes) -> None:
    """The panel's legend under its x axis, outside the axes, so it covers no curve."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=9, frameon=False)


def figure_controls(results: dict) -> plt.Figure:
    """The controls, 2 × 2: (a) test error near the peak (zoomed to the widths between the
    smallest and largest pre-registered ones), the main arm
    with the confirmation arm (fresh seeds, second noise draw) at its pre-registered widths;
    (b) noisy against clean labels; (c) the two training-set sizes, each n·K marked; (d) train
    error averaged over the last 3 records (symlog y), both sizes and clean labels, each n·K
    marked. Saved as ``double_descent_controls``.

    Args:
        results: the whole result of :func:`run`.

    Returns:
        The figure.
    """
    main, clean, small, confirm = (results, results["clean"], results["small_n"],
                                   results["confirm"])
    fig, axes = plt.subplots(2, 2, figsize=(11, 11))
    ax = axes[0, 0]
    low, high = min(results["confirm_widths"]), max(results["confirm_widths"])
    zoom = {**main, "widths": [e for e in main["widths"] if low <= e["width"] <= high]}
    _arm_curve(ax, zoom, color="C3", marker="s", ls="--", ms=4,
               label=f"seeds {', '.join(map(str, main['seeds']))}, noise draw 1")
    for e in confirm["widths"]:
        mean, half = t_interval(_column(e, "test_error"))
        ax.errorbar([e["n_params"]], [mean], yerr=[half], fmt="D", color="C4", ms=6, capsize=4,
                    label=(f"pre-registered widths: seeds "
                           f"{', '.join(map(str, confirm['seeds']))}, noise draw 2"
                           if e is confirm["widths"][0] else None))
    _mark_threshold(ax, main)
    _parameter_axis(ax)
    _width_axis(ax, zoom)
    ax.set(ylabel="test error (true labels)", title="(a) test error near the peak (zoom)")
    _legend_below(ax)

    ax = axes[0, 1]
    _arm_curve(ax, main, color="C3", marker="s", ls="--", ms=3.5,
               label=f"{main['labels_changed']:.1%} of labels changed")
    _arm_curve(ax, clean, color="C0", marker="o", ls="-", ms=4, label="clean labels")
    _mark_threshold(ax, main)
    _parameter_axis(ax)
    ax.set(ylabel="test error (true labels)", title=f"(b) label noise or none, n = "
                                                    f"{main['n_train']:,}")
    _legend_below(ax)

    ax = axes[1, 0]
    for arm, color, marker in ((main, "C3", "s"), (small, "C1", "o")):
        _arm_curve(ax, arm, color=color, marker=marker, ls="--", ms=3.5,
                   label=f"n = {arm['n_train']:,} ({arm['labels_changed']:.1%} changed)")
        _mark_threshold(ax, arm, color=color, text=f"n·K, n = {arm['n_train']:,}",
                        height=1.0 if arm is main else 0.93)
    _parameter_axis(ax)
    ax.set(ylabel="test error (true labels)", title="(c) two training-set sizes")
    _legend_below(ax)

    ax = axes[1, 1]
    for arm, color, marker, label in ((main, "C3", "s", f"n = {main['n_train']:,}, noisy"),
                                      (small, "C1", "o", f"n = {small['n_train']:,}, noisy"),
                                      (clean, "C0", "^", f"n = {main['n_train']:,}, clean")):
        xs = np.array([e["n_params"] for e in arm["widths"]], dtype=float)
        _band(ax, xs, [last_records(e, "train_error") for e in arm["widths"]], color=color,
              marker=marker, ms=3.5, label=label)
    for arm, color, height in ((main, "C3", 1.0), (small, "C1", 0.93)):
        _mark_threshold(ax, arm, color=color, text=f"n·K, n = {arm['n_train']:,}",
                        height=height)
    ax.axhline(0.001, color="k", lw=0.8, ls="-.", label="0.1% (the robust criterion)")
    ax.set_yscale("symlog", linthresh=1e-4)
    ax.set_ylim(-1e-5, 1)
    _parameter_axis(ax)
    ax.set(ylabel="train error, mean of last 3 records",
           title="(d) train error near interpolation (symlog)")
    _legend_below(ax)
    for ax in (axes[0, 1], axes[1, 0]):
        ax.set_ylim(bottom=max(ax.get_ylim()[0], 0))  # an error is >= 0
    label = dataset_label(main["source"], main["dataset"])
    fig.suptitle(f"{label}, one-hidden-layer MLPs, {main['epochs']} epochs each; band and "
                 "bars: 95% t interval over seeds", fontsize=10)
    fig.tight_layout()
    save_figure(fig, "double_descent_controls")
    return fig

def shown_epochs(results: dict) -> list[int]:
    """The recorded epochs that :func:`figure_over_training` draws: the first, the middle
    one and the last."""
    epochs = recorded_epochs(results)
    return sorted({epochs[0], epochs[(len(epochs) - 1) // 2], epochs[-1]})


def figure_over_training(results: dict) -> plt.Figure:
    """Test error and train error (noisy labels) against parameters (log x; hidden widths on
    the top axis) at the first,
    middle and last recorded epochs (:func:`shown_epochs`), n·K marked. Saved as
    ``double_descent_over_training``.

    Args:
        results: from :func:`run`.

    Returns:
        The figure.
    """
    widths = results["widths"]
    params = np.array([e["n_params"] for e in widths])
    shown = shown_epochs(results)
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(shown)))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, key, fmt, ylabel in ((axes[0], "test_error", "s--", "test error (true labels)"),
                                 (axes[1], "train_error", "o-", "train error (noisy labels)")):
        for ep, color in zip(shown, colors, strict=True):
            _band(ax, params, [_column(e, key, ep) for e in widths], color=color,
                  marker=fmt[0], ls=fmt[1:], ms=3.5, label=f"epoch {ep}")
        _mark_threshold(ax, results)
        _parameter_axis(ax)
        _width_axis(ax, results)
        ax.set(ylabel=ylabel, title=f"{ylabel} during training")
        ax.set_ylim(-0.02, 1.0)  # an error lies in [0, 1]; a wider interval is cut there
    handles = [plt.Line2D([], [], color=color, lw=2.5, label=f"epoch {ep}")
               for ep, color in zip(shown, colors, strict=True)]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.suptitle(_title(results, f"at {len(shown)} of the recorded epochs"), fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    save_figure(fig, "double_descent_over_training")
    return fig


def make_figures(results: dict) -> list[plt.Figure]:
    """Every figure of the notebook: :func:`figure_by_width`, :func:`figure_controls` and
    :func:`figure_over_training`."""
    return [figure_by_width(results), figure_controls(results), figure_over_training(results)]
