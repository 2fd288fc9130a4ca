"""The figures of the parameter-count sweep."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hw1.plotting import save_figure

from .analysis import _label, n_times_k


def _width_axis(ax: plt.Axes, rows: list[dict]) -> None:
    """Mark the top of a parameters axis with the widths ``w`` of ``rows``."""
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.xaxis.set_minor_formatter(NullFormatter())
    top = ax.secondary_xaxis("top")
    top.set_xticks([r["n_params"] for r in rows], labels=[str(r["width"]) for r in rows])
    top.xaxis.set_minor_locator(NullLocator())
    top.set_xlabel("width w")


def _errorbar(ax: plt.Axes, rows: list[dict], values, fmt: str, color: str, label: str,
              clip: str | None = None, **kwargs) -> None:
    """Mean ± 95% t interval over seeds of ``values(row)`` against the parameter count;
    ``clip``: ``"acc"`` draws the interval clipped to [0, 1], ``"loss"`` to (0, ∞)."""
    from hw1.intervals import t_interval

    params = np.array([r["n_params"] for r in rows])
    mean, half = np.array([t_interval(values(r)) for r in rows]).T
    low, high = half, half
    if clip == "acc":
        low, high = np.minimum(half, mean), np.minimum(half, 1 - mean)
    elif clip == "loss":
        low = np.minimum(half, 0.999 * mean)
    ax.errorbar(params, mean, yerr=[low, high], fmt=fmt, color=color, ms=3, capsize=2,
                label=label, **kwargs)


def figure(results: dict, name: str) -> plt.Figure:
    """One dataset against the number of parameters (log x, shared by the four panels; the
    widths on the top axis of the upper row; a dotted line at ``n · K``): train and test loss
    (linear y, so that a rise of the test loss shows) and accuracy after the main budget
    (solid, dashed) and after the longer one (dotted), the test accuracy of widths ≥ 16 on an
    axis of its own with the single seeds of both budgets as dots, and the loss gap test −
    train at both budgets; each mean ± 95% t interval over seeds. Drawn 8 in wide, so that its
    9 pt text is not scaled down at the README's ~880 px.

    Args:
        results: the output of :func:`run`.
        name: the dataset (a key of ``results``).

    Returns:
        The figure, saved as ``params_vs_generalization_<name>``.
    """
    res = results[name]
    rows, checks = res["rows"], res["check_rows"]
    short, long_ = res["epochs"], res["check_epochs"]
    nk = n_times_k(res)
    fig, axes = plt.subplots(2, 2, figsize=(8.0, 7.4), sharex=True)
    (ax_loss, ax_acc), (ax_zoom, ax_gap) = axes
    for ax, key, ylabel in ((ax_loss, "loss", "cross-entropy"), (ax_acc, "acc", "accuracy")):
        for split, fmt, color in (("train", "o-", "C0"), ("test", "s--", "C3")):
            _errorbar(ax, rows, lambda r, k=f"{split}_{key}": r[k], fmt, color,
                      f"{split}, {short} epochs", clip=key)
        if checks:
            _errorbar(ax, checks, lambda r, k=f"train_{key}": r[k], "^:", "C2",
                      f"train, {long_} epochs", clip=key)
            _errorbar(ax, checks, lambda r, k=f"test_{key}": r[k], "D:", "C1",
                      f"test, {long_} epochs", clip=key)
        ax.set(xscale="log", ylabel=ylabel)
    ax_loss.set_ylim(bottom=0)
    ax_loss.set_title("loss")
    ax_acc.set_title("accuracy")

    zoom = [r for r in rows if r["width"] >= 16]
    zoom_checks = [r for r in checks if r["width"] >= 16]
    for shown, fmt, color, shift in ((zoom, "s--", "C3", 1 / 1.1), (zoom_checks, "D:", "C1",
                                                                      1.1)):
        if not shown:
            continue
        _errorbar(ax_zoom, shown, lambda r: r["test_acc"], fmt, color, None)
        for r in shown:
            ax_zoom.plot([r["n_params"] * shift] * len(r["test_acc"]), r["test_acc"], ".",
                         color=color, alpha=0.6, ms=4)
    ax_zoom.set(xscale="log", xlabel="number of parameters (log)",
                ylabel="test accuracy (zoomed)",
                title="test accuracy, widths ≥ 16 (dots: single seeds)")

    _errorbar(ax_gap, rows, lambda r: np.subtract(r["test_loss"], r["train_loss"]), "s--",
              "C3", None)
    if checks:
        _errorbar(ax_gap, checks, lambda r: np.subtract(r["test_loss"], r["train_loss"]),
                  "D:", "C1", None)
    ax_gap.set(xscale="log", xlabel="number of parameters (log)",
               ylabel="test loss − train loss",
               title=f"loss gap: {short} (red), {long_} epochs (orange)")
    for ax in axes.flat:
        ax.axvline(nk, color="grey", lw=1.0, ls=":",  # in the legend once
                   label=f"n·K = {nk:,} parameters" if ax is ax_loss else None)
    for ax in (ax_loss, ax_acc):
        _width_axis(ax, rows)
    handles, labels = ax_loss.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False)
    seeds = len(rows[0]["train_loss"])
    fig.suptitle(f"{_label(results, name)}: MLP input-w-w-10 at {len(rows)} widths w,\n"
                 f"fixed {short}- and {long_}-epoch cosine budgets, n = {res['n_train']:,} "
                 f"training images, K = {res['num_classes']} classes\n"
                 f"{seeds} seeds; error bars: 95% t interval over seeds")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    save_figure(fig, f"params_vs_generalization_{name}")
    return fig


def figure_budget_differences(results: dict) -> plt.Figure:
    """Per dataset (rows) and width: the longer budget minus the main one in test accuracy
    (left: 95% paired t interval over seeds, and the 95% bootstrap interval over test images
    beside it) and in test loss (right: paired over seeds), against the width; the numbers of
    :func:`budget_check`.

    Args:
        results: the output of :func:`run`.

    Returns:
        The figure, saved as ``params_vs_generalization_budget_differences``.
    """
    from hw1.intervals import bootstrap_accuracy_difference, t_interval
    from hw1.plotting import MAX_WIDTH_IN

    from .analysis import N_BOOT

    names = list(results)
    fig, axes = plt.subplots(len(names), 2, figsize=(MAX_WIDTH_IN - 0.6, 3.6 * len(names)),
                             squeeze=False)
    for (ax_acc, ax_loss), name in zip(axes, names, strict=True):
        res = results[name]
        main = {r["width"]: r for r in res["rows"]}
        checks = [r for r in res["check_rows"] if r["width"] in main]
        widths = np.array([r["width"] for r in checks], dtype=float)
        for ax, key in ((ax_acc, "test_acc"), (ax_loss, "test_loss")):
            d = [np.subtract(r[key], main[r["width"]][key]) for r in checks]
            mean, half = np.array([t_interval(v) for v in d]).T
            ax.errorbar(widths / 1.08, mean, yerr=half, fmt="o", color="k", ms=4, capsize=3,
                        label="95% paired t interval over seeds")
            ax.axhline(0, color="grey", lw=0.8)
            ax.set(xscale="log", xlabel="width w (log)")
            ax.set_xticks(widths, labels=[f"{w:g}" for w in widths])
            ax.minorticks_off()
        have = [r for r in checks if "test_correct" in r and "test_correct" in main[r["width"]]]
        if have:
            boot = [bootstrap_accuracy_difference(r["test_correct"],
                                                  main[r["width"]]["test_correct"],
                                                  n_boot=N_BOOT) for r in have]
            mid = np.array([b["difference"] for b in boot])
            err = [mid - np.array([b["ci95_low"] for b in boot]),
                   np.array([b["ci95_high"] for b in boot]) - mid]
            ax_acc.errorbar(np.array([r["width"] for r in have]) * 1.08, mid, yerr=err,
                            fmt="s", color="C3", ms=4, capsize=3,
                            label="95% bootstrap interval over test images")
        label = _label(results, name)
        ax_acc.set(ylabel=f"Δ test accuracy ({res['check_epochs']} − {res['epochs']} ep)",
                   title=f"{label}: test accuracy")
        ax_loss.set(ylabel=f"Δ test loss ({res['check_epochs']} − {res['epochs']} ep)",
                    title=f"{label}: test loss")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
    first = results[names[0]]["rows"][0]
    n_test = first.get("n_test")
    fig.suptitle(f"Twice the budget: each width's test metrics after the longer cosine "
                 f"schedule minus after the main one\n({len(first['test_acc'])} seeds, the "
                 f"same initializations at both budgets"
                 + (f"; test sets of {n_test:,} images)" if n_test else ")"))
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    save_figure(fig, "params_vs_generalization_budget_differences")
    return fig


def make_figures(results: dict) -> list[plt.Figure]:
    """Every figure of the notebook: :func:`figure` for each dataset and
    :func:`figure_budget_differences`."""
    return [figure(results, name) for name in results] + [figure_budget_differences(results)]
