"""The figures of the trajectory experiment."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from hw1.plotting import save_figure

from .analysis import _pair_disagreement, _parts, function_space, geometry, project
from .run import Config


def trajectory_figure(results: dict, part: str) -> plt.Figure:
    """The runs' snapshots on the joint PCA plane of ``part``; the legend gives each run's
    training accuracy after the first snapshot interval and at the end, the title each run's
    start → end distance in full space (mean ± 95% t over runs), of which an arm shows only
    the projection.

    Args:
        results: what :func:`run` returns.
        part: ``"whole"`` or ``"first_layer"``.

    Returns:
        The figure, saved as ``optimization_trajectory_<part>``.
    """
    from hw1.report import ci, num

    acc = 100 * np.asarray(results["snapshot_train_acc"])
    every = results["snapshot_epochs"][1]
    coords, ev = project(results, part)
    travel = geometry(results, part)["travel"]
    fig, ax = plt.subplots(figsize=(7.6, 5.8))
    for r in range(len(coords)):
        ax.plot(coords[r, :, 0], coords[r, :, 1], "-o", color=f"C{r}", ms=3, lw=1,
                label=f"run {r}: {num(acc[r, 1])} → {num(acc[r, -1])}")
        ax.plot(*coords[r, 0], "o", mfc="white", mec=f"C{r}", ms=7, zorder=3)
        ax.plot(*coords[r, 1], "s", color=f"C{r}", ms=5, zorder=3)
    ax.set_aspect("equal", adjustable="datalim")  # distances on the plane are comparable
    ax.set(xlabel=f"PC1 ({100 * ev[0]:.1f}% of variance)",
           ylabel=f"PC2 ({100 * ev[1]:.1f}% of variance)",
           title=f"Weights of the {_parts()[part]} every {every} epochs, {len(coords)} runs, "
                 f"one joint PCA\nopen circle: start; square: epoch {every}\n"
                 f"arm length is the projection only: in full space every run moves "
                 f"{ci(travel)}\n(mean ± 95% t over runs); PCs 3–7 hold nearly as much "
                 f"variance as PCs 1–2")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), handlelength=1.2,
              title=f"training accuracy %,\nepoch {every} → {results['snapshot_epochs'][-1]}")
    save_figure(fig, f"optimization_trajectory_{part}")
    return fig


def function_space_figure(results: dict, fs: dict) -> plt.Figure:
    """Left: test-set disagreement of two runs and their test error over the snapshot
    epochs (mean over pairs / runs; the band is the range over all pairs). Right: each pair's
    parameter distance at the end, before and after aligning hidden units.

    Args:
        results: what :func:`run` returns.
        fs: what :func:`function_space` returns.

    Returns:
        The figure, saved as ``optimization_trajectories_function_space_and_alignment``.
    """
    epochs = np.asarray(results["snapshot_epochs"])
    pred, labels = fs["pred"], fs["labels"]
    dis = np.stack([_pair_disagreement(pred[:, s], fs["pairs"]) for s in range(len(epochs))], 1)
    errors = np.mean(pred != labels, axis=2)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.4, 4.0), layout="constrained")
    left.fill_between(epochs, dis.min(0), dis.max(0), color="C0", alpha=0.2,
                      label="disagreement, range over pairs")
    left.plot(epochs, dis.mean(0), "-o", ms=3, color="C0", label="disagreement, mean over pairs")
    left.plot(epochs, errors.mean(0), "-s", ms=3, color="C3", label="test error, mean over runs")
    left.set(yscale="log", xlabel="epoch", ylabel="share of test images",
             title=f"Two runs in function space ({len(labels):,} test images)")
    left.legend(fontsize=9)
    order = np.argsort(fs["distance"])
    x = np.arange(len(order))
    right.plot(x, fs["distance"][order], "o", color="C0", ms=4, label="unaligned")
    right.plot(x, fs["aligned_distance"][order], "o", color="C2", ms=4,
               label="after aligning hidden units")
    right.set(xlabel="pair of runs (sorted by unaligned distance)", ylabel="‖θ_a − θ_b‖",
              title="Two ends in parameter space", ylim=(0, None))
    right.legend(fontsize=9)
    save_figure(fig, "optimization_trajectories_function_space_and_alignment")
    return fig


def make_figures(results: dict) -> list[plt.Figure]:
    """Trajectories on the shared PCA plane, whole model and first layer, then the
    function-space and alignment figure."""
    cfg = Config.resolve()
    return [*(trajectory_figure(results, part) for part in _parts()),
            function_space_figure(results, function_space(results, cfg))]
