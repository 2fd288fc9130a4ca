"""The figures of the label-corruption sweep."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hw1.data import dataset_label
from hw1.plotting import band, save_figure

from .analysis import CHANGED_THRESHOLDS, _epochs_to, _thresholds


def _title(results: dict, what: str) -> str:
    seeds = len(next(iter(results["levels"].values())))
    return (f"{dataset_label(results['source'], results['dataset'])}: {what}, {seeds} seeds "
            f"per level, each trained to {results['criterion']}")


PALETTE = ("black", "tab:blue", "tab:green", "tab:orange", "tab:red", "tab:purple",
           "tab:brown", "tab:pink")


def _draw_curves(ax: plt.Axes, rows: list[dict], transform, key: str, color: str,
                 level: float) -> None:
    """One level's history ``key`` per epoch on ``ax``, after ``transform`` (averaged and
    banded in that scale): while every seed trains, the mean and 95% t band; after the first
    seed stops, each seed still training as its own thin, light line (no mean of two or one
    seeds)."""
    longest = max(len(r["history"]["epoch"]) for r in rows)
    epochs = np.arange(longest)
    runs = np.full((len(rows), longest), np.nan)
    for i, r in enumerate(rows):
        runs[i, :len(r["history"][key])] = r["history"][key]
    runs = transform(runs)
    k = min(len(r["history"][key]) for r in rows)
    band(ax, epochs[:k], runs[:, :k], color=color, label=f"p = {level:g}")
    for run_ in runs:
        if np.isfinite(run_[k:]).any():
            ax.plot(epochs[k - 1:], run_[k - 1:], color=color, lw=0.6, alpha=0.35)


def figure_training_curves(results: dict) -> plt.Figure:
    """Train loss and train error (1 − accuracy, on each model's own labels) per epoch for
    every corruption level, both on a log scale, with the accuracy thresholds of
    :func:`epochs_to_reach` as error lines: the mean of the seeds still training, and the 95%
    t band over seeds up to the first seed's stop (both averaged and banded as log10 values;
    an error of 0 is drawn at 10⁻⁴).

    Args:
        results: the output of :func:`run`.

    Returns:
        The figure, saved as ``random_labels_training_curves``.
    """
    from hw1.plotting import BAND_NOTE, MAX_WIDTH_IN

    floor = 1e-4  # an error of exactly 0 would leave the log axis
    levels = results["levels"]
    fig, axes = plt.subplots(1, 2, figsize=(MAX_WIDTH_IN - 0.6, 4.6))
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(levels))]
    for (level, rows), color in zip(levels.items(), colors, strict=True):
        _draw_curves(axes[0], rows, lambda v: np.log10(v), "train_loss", color, level)
        _draw_curves(axes[1], rows, lambda v: np.log10(np.maximum(1.0 - v, floor)),
                     "train_acc", color, level)
    axes[0].set(xlabel="epoch", ylabel="cross-entropy on own labels (log scale)",
                title="train loss (mean and band of log10 loss)")
    target = results["target_train_acc"]
    others = [t for t in _thresholds() if t != target]
    for t, ls in zip(others, (":", "-."), strict=False):
        axes[1].axhline(np.log10(1 - t), color="grey", lw=1.0, ls=ls,
                        label=f"{t:.0%} accuracy (error {1 - t:.2g})")
    axes[1].axhline(np.log10(1 - target), color="grey", lw=1.0, ls="--",
                    label=f"criterion: {target:.0%} accuracy (error {1 - target:.2g})")
    axes[1].set(xlabel="epoch", ylabel="error on own labels, 1 − accuracy (log scale)",
                title="train error (mean and band of log10 error)")
    for ax in axes:
        low, high = ax.get_ylim()
        ticks = np.arange(np.ceil(low), np.floor(high) + 1)
        ax.set_yticks(ticks, labels=[f"{10 ** t:g}" for t in ticks])
    # levels in the shared legend; the threshold lines (right panel only) in that panel's
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(handles),
               frameon=False, title="p: share of labels randomized")
    lines = [h for h, lab in zip(*axes[1].get_legend_handles_labels(), strict=True)
             if "accuracy" in lab]
    axes[1].legend(lines, [ln.get_label() for ln in lines], loc="upper right", fontsize=9)
    fig.suptitle(_title(results, "training curves") + f"\nthick line: mean and {BAND_NOTE}, "
                 "until the first seed fits; thin lines: single seeds after that\n"
                 "mean and band are geometric: taken over log10 values (t interval of log10)")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    save_figure(fig, "random_labels_training_curves")
    return fig


def figure_corruption_sweep(results: dict) -> plt.Figure:
    """Against the corrupted fraction p: epochs until 50% and 90% of the changed labels are
    memorized (:data:`CHANGED_THRESHOLDS`) and until 90% and the criterion's share (99%, the
    fit the tables time) of all training labels as given are fitted (mean ± 95% t interval
    over seeds, seeds as dots), and the test error. Drawn 8 in wide, so that its 9 pt text
    is not scaled down at the README's ~880 px.

    Args:
        results: the output of :func:`run`.

    Returns:
        The figure, saved as ``random_labels_corruption_sweep``.
    """
    from hw1.intervals import t_interval

    levels = results["levels"]
    x = np.array(list(levels))
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 4.6), width_ratios=(1.25, 1))
    target = results["target_train_acc"]
    series = [(t, "acc_changed", f"{t:.0%} of the changed labels", fmt, color)
              for t, fmt, color in zip(CHANGED_THRESHOLDS, ("o-", "s-"), ("C0", "C2"),
                                       strict=True)]
    series += [(0.9, "train_acc", "90% of all training labels as given", "^--", "C1")
               ] * (target != 0.9)
    series += [(target, "train_acc",
                f"{target:.0%} of all training labels as given (the fit, as in the tables)",
                "v--", "C3")]
    offsets = np.linspace(-0.024, 0.024, len(series))
    for (t, key, label, fmt, color), dx in zip(series, offsets, strict=True):
        keep = [lv for lv in levels if key != "acc_changed" or lv > 0]
        vals = [[_epochs_to(r, t, key) for r in levels[lv]] for lv in keep]
        mean, half = np.array([t_interval(v) for v in vals]).T
        xs = np.array(keep) + dx
        axes[0].errorbar(xs, mean, yerr=half, fmt=fmt, color=color, ms=4, capsize=3,
                         label=label)
        for xi, v in zip(xs, vals, strict=True):
            axes[0].plot([xi] * len(v), v, ".", color=color, ms=4, alpha=0.5)
    axes[0].set(xlabel="p (share of training labels randomized)", xlim=(-0.05, 1.05),
                ylabel="epochs until first reached",
                title="epochs until this share is fitted")
    errs = [[1 - r["test_acc"] for r in rows] for rows in levels.values()]
    mean, half = np.array([t_interval(v) for v in errs]).T
    axes[1].errorbar(x, mean, yerr=half, fmt="o-", color="k", ms=4, capsize=3)
    for xi, v in zip(x, errs, strict=True):
        axes[1].plot([xi] * len(v), v, ".", color="k", ms=4, alpha=0.5)
    axes[1].axhline(0.9, color="grey", lw=0.8, ls=":")
    axes[1].text(0.0, 0.9, "chance (0.9)", color="grey", va="bottom")
    axes[1].set(xlabel="p (share of training labels randomized)",
                ylabel=f"test error ({results['n_test']:,} test images, true labels)",
                title="test error at the fit")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False,
               title="epochs until this share of labels is fitted:")
    seeds = len(next(iter(levels.values())))
    fig.suptitle(f"{dataset_label(results['source'], results['dataset'])}: corruption sweep, "
                 f"{seeds} seeds per level,\neach trained to {results['criterion']}\n"
                 "mean ± 95% t interval over seeds; dots: single seeds")
    fig.tight_layout(rect=(0, 0.15, 1, 1))
    save_figure(fig, "random_labels_corruption_sweep")
    return fig


def figure_changed_unchanged(results: dict) -> plt.Figure:
    """Per epoch and corrupted level: the accuracy on the changed labels (the share of them
    memorized) and on the unchanged ones (Arpit et al. 2017), with the memorization shares
    of :data:`CHANGED_THRESHOLDS` as lines; mean and 95% t band over seeds until the first
    seed fits, single seeds after that.

    Args:
        results: the output of :func:`run`.

    Returns:
        The figure, saved as ``random_labels_changed_and_unchanged_labels``.
    """
    from hw1.plotting import BAND_NOTE, MAX_WIDTH_IN

    levels = {lv: rows for lv, rows in results["levels"].items() if lv > 0}
    fig, axes = plt.subplots(1, 2, figsize=(MAX_WIDTH_IN - 0.6, 4.6), sharey=True)
    for i, (level, rows) in enumerate(levels.items()):
        color = PALETTE[1 + i % (len(PALETTE) - 1)]  # black stays the control's colour
        for ax, key in zip(axes, ("acc_changed", "acc_unchanged"), strict=True):
            _draw_curves(ax, rows, lambda v: v, key, color, level)
    for t, ls in zip(CHANGED_THRESHOLDS, (":", "--"), strict=True):
        axes[0].axhline(t, color="grey", lw=1.0, ls=ls, label=f"{t:.0%} memorized")
    axes[0].set(xlabel="epoch", ylabel="accuracy on the model's own labels",
                title="changed labels (share memorized)", ylim=(0, 1.02))
    axes[1].set(xlabel="epoch", title="unchanged labels (their true class)")
    axes[0].legend(loc="lower right", fontsize=9, title="p: share randomized")
    fig.suptitle(_title(results, "accuracy on the changed and on the unchanged labels") +
                 f"\nthick line: mean and {BAND_NOTE}, until the first seed fits; "
                 "thin lines: single seeds after that")
    fig.tight_layout()
    save_figure(fig, "random_labels_changed_and_unchanged_labels")
    return fig


def make_figures(results: dict) -> list[plt.Figure]:
    """Every figure of the notebook: :func:`figure_training_curves`,
    :func:`figure_changed_unchanged` and :func:`figure_corruption_sweep`."""
    return [figure_training_curves(results), figure_changed_unchanged(results),
            figure_corruption_sweep(results)]
