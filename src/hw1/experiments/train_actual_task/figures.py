"""The figures of the actual-task experiment."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hw1.intervals import t_interval
from hw1.plotting import band, save_figure
from hw1.training import History

from .analysis import _difference_rows, _head, _label, _runs


def figure_differences(results: dict, n_boot: int = 2000) -> plt.Figure:
    """The tested differences of :func:`depth_differences`: one panel per dataset, one row
    per (head, pair of depths), the difference in final test accuracy with its 95% bootstrap
    interval over the test images (thick) and its 95% Welch interval over seeds (thin), filled
    where both Holm p are below 0.05; saved as ``train_actual_task_differences``.

    Args:
        results: as returned by :func:`run`.
        n_boot: bootstrap replicates (as in the table).

    Returns:
        the figure.
    """
    from matplotlib.lines import Line2D

    rows = _difference_rows(results, n_boot)
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    fig, axes = plt.subplots(1, len(datasets), figsize=(10.4, 0.55 * max(
        sum(r["dataset"] == d for r in rows) for d in datasets) + 2.4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        mine = [r for r in rows if r["dataset"] == dataset]
        for y, r in enumerate(mine):
            shown = r["holm_images"] < 0.05 and r["holm_seeds"] < 0.05
            color = "C1" if r["head"] == "GAP" else "C0"
            ax.plot(r["seeds"], [y, y], color=color, lw=1.2)
            ax.plot(r["images"], [y, y], color=color, lw=5, solid_capstyle="butt")
            ax.plot(r["difference"], y, "o", color=color, mec="black",
                    mfc=color if shown else "white", ms=7)
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(range(len(mine)), [f"{r['head']}: {r['deep']} − {r['shallow']} layers"
                                         for r in mine])
        ax.invert_yaxis()
        ax.set(xlabel="difference in final test accuracy", title=dataset)
    handles = [Line2D([], [], color="0.3", lw=5, label="95% CI over test images (bootstrap)"),
               Line2D([], [], color="0.3", lw=1.2, label="95% CI over seeds (Welch, unadjusted)"),
               Line2D([], [], color="0.3", marker="o", mfc="0.3", mec="black", ls="none",
                      label="both Holm p < 0.05"),
               Line2D([], [], color="0.3", marker="o", mfc="white", mec="black", ls="none",
                      label="not both"),
               Line2D([], [], color="C0", lw=3, label="flatten head"),
               Line2D([], [], color="C1", lw=3, label="GAP head")]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=9)
    seeds = len(next(_runs(next(iter(results.values()))))[2]["histories"])
    fig.suptitle(f"Deeper minus shallower: final test accuracy ({seeds} seeds per model)")
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    save_figure(fig, "train_actual_task_differences")
    return fig


def figure_dataset(results: dict, name: str, zoom_from: int = 2) -> plt.Figure:
    """One dataset: one row per head; loss (left) and accuracy (right, zoomed to the range of
    the accuracies from epoch ``zoom_from`` on, one range shared by all heads so that their
    panels compare by eye) per epoch, train solid and test dashed (at
    the epochs the test set was read), one colour per depth, each a mean over seeds with its
    95% t band (:func:`hw1.plotting.band`); saved as ``train_actual_task_<name>``.

    Args:
        results: as returned by :func:`run`.
        name: the dataset.
        zoom_from: the first epoch the accuracy axis shows.

    Returns:
        the figure.
    """
    from hw1.plotting import BAND_NOTE

    res = results[name]
    heads = list(res["heads"])
    fig = plt.figure(figsize=(8.0, 4.2 * len(heads) + 0.6))
    grid = fig.add_gridspec(2 * len(heads), 2, height_ratios=[1.0, 0.2] * len(heads))
    shown = []  # accuracies from epoch `zoom_from` on, every head: the zoomed axes' range
    acc_axes = []
    for row, head in enumerate(heads):
        ax_loss, ax_acc = fig.add_subplot(grid[2 * row, 0]), fig.add_subplot(grid[2 * row, 1])
        acc_axes.append(ax_acc)
        for depth, r in res["heads"][head].items():
            hists = [History.from_dict(h) for h in r["histories"]]
            epoch = np.array(hists[0].epoch)
            color = f"C{depth}"
            label = (f"{depth} conv layer{'s' * (depth > 1)} {r['widths']}: "
                     f"{r['conv_params']} conv + {r['head_params']} head params")
            for ax, key in ((ax_loss, "loss"), (ax_acc, "acc")):
                for part, ls in (("train", "-"), ("test", "--")):
                    values = np.array([getattr(h, f"{part}_{key}") for h in hists], dtype=float)
                    kept = np.isfinite(values).all(0)  # the test set is not read every epoch
                    band(ax, epoch[kept], values[:, kept], color=color, ls=ls,
                         label=label if (key, part) == ("loss", "train") else None)
                    if key == "acc":
                        shown.extend(values[:, kept & (epoch >= zoom_from)].ravel())
        ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title=f"{_head(head)} head: loss")
        ax_acc.set(xlabel="epoch", ylabel="accuracy (same range in every row)",
                   title=f"{_head(head)} head: accuracy from epoch {zoom_from}",
                   xlim=(zoom_from - 0.3, None))
        ax_loss.plot([], [], color="black", label="train (solid)")
        ax_loss.plot([], [], color="black", ls="--", label="test (dashed)")
        ax_legend = fig.add_subplot(grid[2 * row + 1, :])
        ax_legend.axis("off")
        ax_legend.legend(*ax_loss.get_legend_handles_labels(), loc="center", ncol=2)
    low, high = min(shown), max(shown)
    pad = 0.1 * (high - low) + 0.005
    for ax_acc in acc_axes:
        ax_acc.set_ylim(max(0.0, low - pad), min(1.0, high + pad))
    seeds = len(next(_runs(res))[2]["histories"])
    fig.suptitle(f"{_label(results, name)}: CNNs of equal parameter count, {seeds} seeds\n"
                 f"line: mean; {BAND_NOTE}")
    fig.tight_layout()
    save_figure(fig, f"train_actual_task_{name}")
    return fig


def figure_final_accuracy(results: dict) -> plt.Figure:
    """Final test accuracy of every model: one panel per dataset (row) and head (column), each
    on its own zoomed axis; one dot per seed and the mean with its 95% t interval over seeds
    (:func:`hw1.intervals.t_interval`); saved as ``train_actual_task_final_accuracy``.

    Args:
        results: as returned by :func:`run`.

    Returns:
        the figure.
    """
    heads = list(dict.fromkeys(h for res in results.values() for h in res["heads"]))
    fig, axes = plt.subplots(len(results), len(heads), figsize=(10.4, 3.4 * len(results) + 0.8),
                             squeeze=False)
    for row, name in enumerate(results):
        for col, head in enumerate(heads):
            ax = axes[row, col]
            runs = results[name]["heads"].get(head, {})
            for x, (depth, r) in enumerate(runs.items()):
                acc = np.array([h["test_acc"][-1] for h in r["histories"]])
                mean, half = t_interval(acc)
                ax.plot(np.full(len(acc), x) + np.linspace(-0.08, 0.08, len(acc)), acc, "o",
                        color=f"C{depth}", alpha=0.6)
                ax.errorbar(x + 0.25, mean, yerr=half, fmt="s", color="black", capsize=4,
                            label="mean ± 95% t interval" if x == 0 else None)
            ax.set_xticks(range(len(runs)), [f"{d} conv layer{'s' * (d > 1)}" for d in runs])
            ax.set_xlim(-0.5, len(runs) - 0.3)
            ax.set(ylabel="final test accuracy",
                   title=f"{_label(results, name)}, {_head(head)} head")
    from matplotlib.lines import Line2D

    handles, labels = axes[0, 0].get_legend_handles_labels()
    seed = Line2D([], [], color="0.5", marker="o", ls="none", alpha=0.6)
    axes[0, 0].legend([seed, *handles], ["one seed (colour: depth)", *labels], loc="lower right")
    seeds = len(next(_runs(next(iter(results.values()))))[2]["histories"])
    fig.suptitle(f"Final test accuracy per model ({seeds} seeds; each panel has its own "
                 "y-axis range)")
    fig.tight_layout()
    save_figure(fig, "train_actual_task_final_accuracy")
    return fig


def make_figures(results: dict) -> list[plt.Figure]:
    """Every figure of the notebook, one per dataset (:func:`figure_dataset`), the tested
    differences (:func:`figure_differences`) and the final accuracies they compare
    (:func:`figure_final_accuracy`), for ``python -m hw1.figures``.

    Args:
        results: as returned by :func:`run`.

    Returns:
        the figures, in the order of ``results``.
    """
    return [*(figure_dataset(results, name) for name in results),
            figure_differences(results), figure_final_accuracy(results)]
