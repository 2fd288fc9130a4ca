"""The figures of the error-surface experiment."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, MaxNLocator

from hw1.plotting import save_figure
from hw1.report import num

README_RC = {"font.size": 11.5, "axes.titlesize": 12.5, "axes.labelsize": 12,
             "xtick.labelsize": 11.5, "ytick.labelsize": 11.5, "legend.fontsize": 11.5,
             "figure.titlesize": 13}
"""Text sizes of the README figures: at least 11.5 pt in a figure about 1,050 px wide, so
still about 9.5 pt when a code host scales it to 880 px."""


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


def _plane_levels(results: dict) -> np.ndarray:
    """31 contour levels of log10 training loss spanning every random plane and the Hessian
    plane, so all of them share one colour scale."""
    both = np.concatenate([np.log10(np.asarray(results["random_planes"])).ravel(),
                           np.log10(np.asarray(results["hessian_plane"])).ravel()])
    return np.linspace(both.min(), both.max(), 31)


def _plane_panel(ax: plt.Axes, x: np.ndarray, grid: np.ndarray, levels: np.ndarray):
    """Filled contours of log10 ``grid`` (``(len(x), len(x))``, indexed [x, y]) with the
    solution starred; returns the contour set (for a colour bar)."""
    X, Y = np.meshgrid(x, x)
    cs = ax.contourf(X, Y, np.log10(np.asarray(grid)).T, levels=levels, cmap="viridis")
    ax.plot([0], [0], "*", color="red", ms=12, mec="white", mew=0.8)
    ax.set_aspect("equal")
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    return cs


def _plain_log_axis(axis, values: np.ndarray) -> None:
    """Label a log axis at 1-2-5 steps within the range of ``values``, in plain numbers,
    without minor labels."""
    from matplotlib.ticker import FixedLocator, NullFormatter

    values = np.asarray(values, dtype=float)
    low, high = np.nanmin(values[values > 0]), np.nanmax(values)
    ticks = [m * 10.0 ** k for k in range(int(np.floor(np.log10(low))),
                                          int(np.ceil(np.log10(high))) + 1)
             for m in (1, 2, 5) if low <= m * 10.0 ** k <= high]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def planes_figure(results: dict) -> plt.Figure:
    """Four views of the training loss around one solution, 2 × 2: (a) the first random
    filter-normalized plane and (b) the plane of the Hessian's top two eigenvectors, on one
    colour scale of log10 loss; (c) the loss along v₁ and v₂ (the Hessian plane's axes)
    beside the quadratic model L₀ + ½λr²; (d) the loss along the straight line from the
    initialization (α = 0) through the solution (α = 1) and beyond, its smallest value
    marked. The other direction seeds' planes are in :func:`other_random_planes_figure`.

    Args:
        results: what :func:`run` returns.

    Returns:
        The figure, saved as ``error_surface_random_planes_and_hessian_plane``.
    """
    with plt.rc_context(README_RC):
        fig, axes = plt.subplots(2, 2, figsize=(9.6, 8.8), layout="constrained")
        levels = _plane_levels(results)
        seeds = results["direction_seeds"]
        (pa, ph), (ps, pl) = axes
        cs = _plane_panel(pa, np.asarray(results["axis"]), results["random_planes"][0], levels)
        pa.set(title=f"(a) random plane (direction seed {seeds[0]})",
               xlabel="α (filter-normalized d₁)", ylabel="β (filter-normalized d₂)")
        h = np.asarray(results["hessian_axis"])
        plane = np.asarray(results["hessian_plane"])
        lam = np.asarray(results["hessian_eigenvalues"])
        _plane_panel(ph, h, plane, levels)
        ph.set(title="(b) plane of the Hessian's top two\neigenvectors v₁, v₂",
               xlabel="a (distance along v₁)", ylabel="b (distance along v₂)")
        fig.colorbar(cs, ax=[pa, ph], format="%.1f", ticks=MaxNLocator(6), shrink=0.9,
                     label="log10 training loss")
        mid = len(h) // 2
        centre = float(plane[mid, mid])
        r = h[mid + 1:]  # distances > 0; the rise is the mean of the two ends ±r
        for along, values, lam_k, color in (("v₁", plane[:, mid], lam[0], "C0"),
                                            ("v₂", plane[mid, :], lam[1], "C1")):
            rise = 0.5 * (values[mid + 1:] + values[:mid][::-1]) - centre
            ps.plot(r, rise, "-o", ms=3.5, color=color, lw=2,
                    label=f"along {along}, λ = {num(lam_k)}")
            ps.plot(r, 0.5 * lam_k * r ** 2, "--", color=color, lw=1.5)
        ps.set(xscale="log", yscale="log", xlabel="distance r from the solution (log scale)",
               ylabel="rise of the training loss (log)",
               title="(c) rise along v₁ and v₂ (mean of ±r)\nagainst the quadratic model")
        _plain_log_axis(ps.xaxis, r)
        _plain_log_axis(ps.yaxis, np.concatenate([ln.get_ydata() for ln in ps.lines]))
        handles = [*ps.get_legend_handles_labels()[0],
                   plt.Line2D([], [], color="grey", ls="-", lw=2, label="measured"),
                   plt.Line2D([], [], color="grey", ls="--", lw=1.5, label="quadratic ½λr²")]
        ps.legend(handles=handles, loc="upper left")
        alpha = np.asarray(results["line_alpha"])
        train = np.asarray(results["line_loss"])
        keep = alpha >= 0.5
        pl.plot(alpha[keep], train[keep], "-o", ms=4, color="C0", label="training loss")
        best = int(np.argmin(train))
        at_solution = float(train[np.argmin(np.abs(alpha - 1))])
        pl.plot(alpha[best], train[best], "v", color="C3", ms=11, ls="none",
                label=f"smallest: α = {num(alpha[best])},\n{num(train[best] / at_solution)} × "
                      "the loss at α = 1")
        pl.axvline(1, color="grey", ls=":", lw=1.2)
        pl.annotate("solution", (1, 0.5), xycoords=("data", "axes fraction"),
                    xytext=(-4, 0), textcoords="offset points", ha="right", va="center",
                    rotation=90, color="dimgrey")
        pl.set(yscale="log", xlabel="α in (1 − α)·θ_init + α·θ_solution",
               ylabel="training loss (log scale)",
               title="(d) the line from initialization\nthrough the solution")
        _plain_log_axis(pl.yaxis, train[keep])
        pl.legend(loc="upper right")
        fig.suptitle("Training loss around one MNIST solution (red star)")
        save_figure(fig, "error_surface_random_planes_and_hessian_plane")
    return fig


def other_random_planes_figure(results: dict) -> plt.Figure:
    """The random planes of the other direction seeds (the first is in
    :func:`planes_figure`), on the same colour scale, in a grid of two columns.

    Args:
        results: what :func:`run` returns.

    Returns:
        The figure, saved as ``error_surface_random_planes_other_seeds``.
    """
    seeds = list(results["direction_seeds"])[1:]
    if not seeds:
        raise ValueError("only one direction seed: there is no other random plane to draw")
    with plt.rc_context(README_RC):
        rows = -(-len(seeds) // 2)
        fig, axes = plt.subplots(rows, 2, figsize=(9.6, 4.2 * rows), squeeze=False,
                                 layout="constrained")
        levels = _plane_levels(results)
        axis = np.asarray(results["axis"])
        for ax, seed, grid in zip(axes.flat, seeds, results["random_planes"][1:], strict=False):
            cs = _plane_panel(ax, axis, grid, levels)
            ax.set(title=f"direction seed {seed}", xlabel="α", ylabel="β")
        for extra in axes.flat[len(seeds):]:
            extra.set_visible(False)
        fig.colorbar(cs, ax=axes.ravel().tolist(), format="%.1f", ticks=MaxNLocator(6),
                     shrink=0.8, label="log10 training loss")
        fig.suptitle("Random filter-normalized planes around the same solution (red star), "
                     "other direction seeds")
        save_figure(fig, "error_surface_random_planes_other_seeds")
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
    """Random plane (contour + 3-D), the first random plane with the Hessian plane, the
    quadratic model and the line, the other random planes, the line from init to solution,
    the last-layer scale, the PCA-plane path."""
    return [random_plane_figure(results), planes_figure(results),
            other_random_planes_figure(results), line_figure(results),
            scale_figure(results), path_figure(results)]
