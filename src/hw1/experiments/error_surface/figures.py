"""The figures of the error-surface experiment."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from hw1.plotting import save_figure


def runs_figure(rep: dict) -> plt.Figure:
    """Every run's training loss under the last-layer scale c (left) and along the line from
    its initialization to its solution (right).

    Args:
        rep: what :func:`repeat_over_runs` returns.

    Returns:
        The figure, saved as ``error_surface_scale_and_line_all_runs``.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.4, 3.9), layout="constrained")
    for r in range(len(rep["scaled_train"])):
        left.plot(rep["c"], rep["scaled_train"][r], color=f"C{r}", lw=1, label=f"run {r}")
        right.plot(rep["alpha"], rep["line_train"][r], color=f"C{r}", lw=1)
    left.axvline(1, color="grey", ls=":", lw=1)
    left.set(yscale="log", xlabel="c (last layer's weights and bias times c)",
             ylabel="training loss", title="Last layer scaled by c, every run")
    left.legend(fontsize=9, ncol=2)
    for a in (0, 1):
        right.axvline(a, color="grey", ls=":", lw=1)
    right.set(yscale="log", xlabel="α in θ = (1 − α)·θ_init + α·θ_solution",
              ylabel="training loss", title="Initialization (α = 0) → solution (α = 1)")
    save_figure(fig, "error_surface_scale_and_line_all_runs")
    return fig


def random_plane_figure(results: dict) -> plt.Figure:
    """The loss on the filter-normalized random plane: contour map and 3-D surface.

    Args:
        results: what :func:`run` returns.

    Returns:
        The figure, saved as ``error_surface_random_plane``.
    """
    axis = np.asarray(results["axis"])
    Z = np.log10(np.asarray(results["random_plane"])).T  # rows = beta
    A, B = np.meshgrid(axis, axis)
    fig = plt.figure(figsize=(10.4, 4.4))
    ax = fig.add_subplot(1, 2, 1)
    cs = ax.contourf(A, B, Z, levels=30, cmap="viridis")
    ax.contour(A, B, Z, levels=15, colors="white", linewidths=0.4, linestyles="solid")
    ax.set_aspect("equal")
    ax.plot([0], [0], "r*", ms=10)  # labelled in place: a legend's star read as a 2nd one
    ax.annotate("solution", (0, 0), xytext=(6, -14), textcoords="offset points", color="white",
                fontweight="bold")
    ax.xaxis.set_major_locator(MaxNLocator(5))
    fig.colorbar(cs, ax=ax, label="log10 training loss")
    ax.set(xlabel="α (filter-normalized direction 1)", ylabel="β (direction 2)",
           title="Loss around the MNIST solution\n(white lines: contours of log10 loss)")
    ax3 = fig.add_subplot(1, 2, 2, projection="3d")
    ax3.plot_surface(A, B, Z, cmap="viridis", linewidth=0)
    for axis3 in (ax3.xaxis, ax3.yaxis, ax3.zaxis):
        axis3.set_major_locator(MaxNLocator(4))
    ax3.tick_params(pad=1)
    ax3.set(xlabel="α", ylabel="β", title="The same surface in 3-D")
    ax3.set_zlabel("log10 loss", labelpad=4)
    fig.suptitle("One run, one random plane (two filter-normalized random directions)")
    save_figure(fig, "error_surface_random_plane")
    return fig


def line_figure(results: dict) -> plt.Figure:
    """The loss on the straight line from the initialization (α = 0) to the solution (α = 1)
    and beyond.

    Args:
        results: what :func:`run` returns.

    Returns:
        The figure, saved as ``error_surface_line_init_to_solution``.
    """
    from matplotlib.transforms import blended_transform_factory

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(results["line_alpha"], results["line_loss"], "-o", ms=3,
            label=f"training loss ({int(results['n_eval']):,} images)")
    ax.plot(results["line_alpha"], results["line_test_loss"], "-s", ms=3, color="C1",
            label=f"test loss ({int(results['n_test']):,} images)")
    ax.legend(loc="lower left", fontsize=9)
    ax.set(yscale="log", xlabel="α in θ = (1 − α)·θ_init + α·θ_solution",
           ylabel="cross-entropy loss",
           title="Loss along the straight line from initialization to solution (one run)")
    where = blended_transform_factory(ax.transData, ax.transAxes)
    for a, label in ((0, "initialization"), (1, "solution")):
        ax.axvline(a, color="grey", ls=":", lw=1)
        ax.text(a, 0.5, f"{label} ", transform=where, rotation=90, ha="right", va="center",
                color="dimgrey")
    save_figure(fig, "error_surface_line_init_to_solution")
    return fig


def path_figure(results: dict) -> plt.Figure:
    """The loss on the plane of the run's two main directions, with the path drawn on it.

    Args:
        results: what :func:`run` returns.

    Returns:
        The figure, saved as ``error_surface_pca_trajectory``.
    """
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    a, b = np.asarray(results["pca_a"]), np.asarray(results["pca_b"])
    Aa, Bb = np.meshgrid(a, b)
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    cs = ax.contourf(Aa, Bb, np.log10(np.asarray(results["pca_plane"])).T, levels=30,
                     cmap="viridis")
    ax.set_aspect("equal")  # both axes are distances in parameter space
    cax = make_axes_locatable(ax).append_axes("right", size="4%", pad=0.1)
    fig.colorbar(cs, cax=cax, label="log10 training loss")
    traj = np.asarray(results["trajectory"])
    ax.plot(traj[:, 0], traj[:, 1], "-o", color="red", ms=3, lw=1)
    for i, ((x, y), e) in enumerate(zip(traj, results["snapshot_epochs"], strict=True)):
        above = i % 2 == 0  # alternate sides, so neighbouring labels do not touch
        ax.annotate(f"{e}", (x, y), color="black", xytext=(0, 6 if above else -6),
                    textcoords="offset points", ha="center", va="bottom" if above else "top",
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7})
    share = np.asarray(results["pca_captured"])
    ax.set(xlabel=f"axis 1 of the run's path ({100 * share[0]:.1f}% of Σ‖θ_s − θ_end‖²)",
           ylabel=f"axis 2 ({100 * share[1]:.1f}%)",
           title="One run's training path on the plane of its two main directions\n"
                 "(SVD of θ_s − θ_end, not centred; labels: epoch; equal scales)")
    save_figure(fig, "error_surface_pca_trajectory")
    return fig


def planes_figure(results: dict) -> plt.Figure:
    """The loss on each seed's random plane (one colour scale) and on the plane of the
    Hessian's top two eigenvectors (its own axes: distances in parameter space).

    Args:
        results: what :func:`run` returns.

    Returns:
        The figure, saved as ``error_surface_random_planes_and_hessian_plane``.
    """
    planes = np.log10(np.asarray(results["random_planes"]))
    seeds = results["direction_seeds"]
    cols = 3
    rows = -(-(len(seeds) + 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(11.0, 3.6 * rows), squeeze=False,
                             layout="constrained")
    axis = np.asarray(results["axis"])
    A, B = np.meshgrid(axis, axis)
    levels = np.linspace(planes.min(), planes.max(), 31)
    for ax, seed, Z in zip(axes.flat, seeds, planes, strict=False):
        cs = ax.contourf(A, B, Z.T, levels=levels, cmap="viridis")
        ax.plot([0], [0], "r*", ms=8)
        ax.set_aspect("equal")
        ax.set(title=f"random plane, direction seed {seed}", xlabel="α", ylabel="β")
    fig.colorbar(cs, ax=axes[:, :].ravel().tolist()[:len(seeds)], shrink=0.8, format="%.2f",
                 ticks=MaxNLocator(6), label="log10 training loss (random planes)")
    ax = axes.flat[len(seeds)]
    h = np.asarray(results["hessian_axis"])
    Ha, Hb = np.meshgrid(h, h)
    lam = np.asarray(results["hessian_eigenvalues"])
    hs = ax.contourf(Ha, Hb, np.log10(np.asarray(results["hessian_plane"])).T, levels=30,
                     cmap="magma")
    ax.plot([0], [0], "c*", ms=8)
    ax.set_aspect("equal")
    ax.set(title=f"top-2 Hessian plane\nλ₁ = {lam[0]:.3g}, λ₂ = {lam[1]:.3g}",
           xlabel="a (along v₁)", ylabel="b (along v₂)")
    fig.colorbar(hs, ax=ax, orientation="horizontal", shrink=0.9, format="%.1f",
                 ticks=MaxNLocator(5), label="log10 training loss (Hessian plane)")
    for extra in axes.flat[len(seeds) + 1:]:
        extra.set_visible(False)
    fig.suptitle("Training loss around one MNIST solution (star): random filter-normalized "
                 "planes, and the plane of the Hessian's top two eigenvectors")
    save_figure(fig, "error_surface_random_planes_and_hessian_plane")
    return fig


def scale_figure(results: dict) -> plt.Figure:
    """Training and test loss with the logits scaled by c, c from 0.5 to 3.

    Args:
        results: what :func:`run` returns.

    Returns:
        The figure, saved as ``error_surface_last_layer_scale``.
    """
    c = np.asarray(results["scales"])
    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    for part, name, color in (("train", "training", "C0"), ("test", "test", "C1")):
        loss = np.asarray(results["scaled_loss"][part])
        ax.plot(c, loss, "-o", ms=3, color=color, label=f"{name} loss")
        ax.plot(c[np.argmin(loss)], loss.min(), "v", color=color, ms=8,
                label=f"smallest {name} loss")
    ax.axvline(1, color="grey", ls=":", lw=1)
    ax.set(yscale="log", xlabel="c (last layer's weights and bias times c)",
           ylabel="cross-entropy loss", title="Loss at the solution with its logits scaled by c")
    ax.legend(fontsize=9)
    save_figure(fig, "error_surface_last_layer_scale")
    return fig


def make_figures(results: dict) -> list[plt.Figure]:
    """Random plane (contour + 3-D), all random planes with the Hessian plane, the line from
    init to solution, the last-layer scale, the PCA-plane path."""
    return [random_plane_figure(results), planes_figure(results), line_figure(results),
            scale_figure(results), path_figure(results)]
