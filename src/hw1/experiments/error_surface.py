"""HW1-2 bonus (visualize the error surface): the loss around a trained MNIST solution on a
plane of filter-normalized random directions, along the straight line from initialization to
the solution, and on the PCA plane of that run's own trajectory (from
:mod:`hw1.experiments.optimization_trajectories`)."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator
from torch import nn

from hw1.config import ExperimentConfig
from hw1.data import load_subset
from hw1.experiments import optimization_trajectories as trajectories
from hw1.metrics import filter_normalized_direction, loss_on_plane
from hw1.models import mlp
from hw1.plotting import save_figure
from hw1.store import RunStore


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the error-surface experiment.

    Attributes:
        run_index: which trajectory run (of the trajectory experiment) to look around.
        grid: points per axis of each 2-D grid.
        span: the random plane covers ``[-span, span]²`` in filter-normalized units.
        line_points: points on the line from initialization (α=0) to solution (α=1).
        direction_seed: seeds the random directions.
    """

    name: ClassVar[str] = "error_surface"
    positive: ClassVar[tuple[str, ...]] = ("grid", "span", "line_points")
    run_index: int = 0
    grid: int = 31
    span: float = 1.0
    line_points: int = 41
    direction_seed: int = 0


Config.register(full=Config(), smoke=Config(grid=5, line_points=5))


def _as_model(flat: np.ndarray, shape_cfg: trajectories.Config, in_features: int,
              num_classes: int) -> nn.Module:
    model = mlp(in_features, list(shape_cfg.widths), num_classes)
    nn.utils.vector_to_parameters(torch.as_tensor(flat, dtype=torch.float32), model.parameters())
    return model.eval()


def _flat_to_dict(vec: np.ndarray, model: nn.Module) -> dict[str, torch.Tensor]:
    out, i = {}, 0
    for name, p in model.named_parameters():
        out[name] = torch.as_tensor(vec[i:i + p.numel()], dtype=p.dtype).view(p.shape)
        i += p.numel()
    return out


def _compute(cfg: Config, tcfg: trajectories.Config, traj: dict) -> tuple[dict, str]:
    data = load_subset(tcfg.dataset, tcfg.n_train, tcfg.n_test)
    in_features, k = int(np.prod(data.input_shape)), data.num_classes
    snaps = traj["snapshots"][cfg.run_index]  # (S, P)
    solution = _as_model(snaps[-1], tcfg, in_features, k)
    loss_fn = nn.functional.cross_entropy
    X, y = data.x_train, data.y_train

    gen = torch.Generator().manual_seed(cfg.direction_seed)
    d1 = filter_normalized_direction(solution, gen)
    d2 = filter_normalized_direction(solution, gen)
    axis = torch.linspace(-cfg.span, cfg.span, cfg.grid)
    random_plane = loss_on_plane(solution, loss_fn, X, y, d1, d2, axis, axis)

    line_alpha = torch.linspace(-0.5, 1.5, cfg.line_points)
    init = _as_model(snaps[0], tcfg, in_features, k)
    to_solution = _flat_to_dict(snaps[-1] - snaps[0], init)
    line = loss_on_plane(init, loss_fn, X, y, to_solution, None, line_alpha)

    offsets = snaps - snaps[-1]  # the run's trajectory relative to its end point
    _, sv, vt = np.linalg.svd(offsets, full_matrices=False)
    u1, u2 = vt[0], vt[1]
    captured = sv ** 2 / np.sum(sv ** 2)  # share of sum_s |θ_s − θ_end|² along each axis
    coords = offsets @ np.stack([u1, u2], 1)  # (S, 2)
    lo, hi = coords.min(0), coords.max(0)
    pad = 0.25 * (hi - lo) + 1e-6
    a_axis = torch.linspace(lo[0] - pad[0], hi[0] + pad[0], cfg.grid)
    b_axis = torch.linspace(lo[1] - pad[1], hi[1] + pad[1], cfg.grid)
    pca_plane = loss_on_plane(solution, loss_fn, X, y, _flat_to_dict(u1, solution),
                              _flat_to_dict(u2, solution), a_axis, b_axis)
    result = {"axis": axis, "random_plane": random_plane, "line_alpha": line_alpha,
              "line_loss": line, "pca_a": a_axis, "pca_b": b_axis, "pca_plane": pca_plane,
              "trajectory": coords, "snapshot_epochs": traj["snapshot_epochs"],
              "pca_captured": captured[:2],
              "n_eval": len(X)}
    return result, data.source


def _unit(cfg: Config, tcfg: trajectories.Config, spec: dict, seed: int) -> tuple[dict, str]:
    return _compute(cfg, tcfg, trajectories.run(tcfg))  # loads the stored trajectories


def run(cfg: Config, executor: Executor | None = None) -> dict:
    """Load the trajectory runs (training them if needed), then compute (or load) the surfaces.

    Args:
        cfg: the experiment's settings.
        executor: where to train the trajectories and compute the surfaces (one task each,
            one after the other); None: here.
    """
    tcfg = trajectories.Config.resolve()
    traj = trajectories.run(tcfg, executor=executor)
    if not 0 <= cfg.run_index < len(traj["snapshots"]):
        raise ValueError(f"run_index {cfg.run_index} is out of range: the trajectory experiment "
                         f"has {len(traj['snapshots'])} runs")
    spec = {**cfg.to_dict(), "trajectories": tcfg.to_dict()}
    [stored] = RunStore(cfg.name).sweep([(spec, cfg.direction_seed)], partial(_unit, cfg, tcfg),
                                        executor=executor)
    return {**stored.result, "source": stored.data_source}


def _local_minima(grid: np.ndarray) -> int:
    """How many points of a 2-D ``grid`` are lower than every neighbour (8 around an inner
    point, fewer at the edges)."""
    padded = np.pad(np.asarray(grid, dtype=float), 1, constant_values=np.inf)
    centre = padded[1:-1, 1:-1]
    lower = np.ones_like(centre, dtype=bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:
                lower &= centre < padded[1 + di:padded.shape[0] - 1 + di,
                                         1 + dj:padded.shape[1] - 1 + dj]
    return int(lower.sum())


def _quantity_table(rows: list[tuple[str, object]]):
    from hw1.report import table

    return table([{"quantity": name, "value": value} for name, value in rows])


def random_plane_table(results: dict):
    """The loss on the random plane around the solution.

    Args:
        results: what :func:`run` returns.

    Returns:
        A display DataFrame, one row per quantity.
    """
    from hw1.report import num

    plane = np.asarray(results["random_plane"])
    axis = np.asarray(results["axis"])
    low = np.unravel_index(np.argmin(plane), plane.shape)
    n = len(axis)
    return _quantity_table([
        ("training images the loss is evaluated on", int(results["n_eval"])),
        ("epochs the solution was trained", int(results["snapshot_epochs"][-1])),
        ("loss at the solution", float(plane[n // 2, n // 2])),
        (f"largest loss on the {n} × {n} grid, [{axis[0]:g}, {axis[-1]:g}]²".replace("-", "−"),
         float(plane.max())),
        ("(α, β) of the smallest loss on the grid",
         "({}, {})".format(*(num(round(float(axis[i]), 6) + 0.0) for i in low))),  # float32 grid
        ("grid points lower than all their neighbours", _local_minima(plane)),
    ])


def line_table(results: dict):
    """The loss on the straight line θ = (1 − α)·θ_init + α·θ_solution.

    Args:
        results: what :func:`run` returns.

    Returns:
        A display DataFrame, one row per quantity.
    """
    line = np.asarray(results["line_loss"])
    alpha = np.asarray(results["line_alpha"])
    between = (alpha >= 0) & (alpha <= 1)
    return _quantity_table([
        ("loss at the initialization (α = 0)", float(line[np.argmin(abs(alpha))])),
        ("loss at the solution (α = 1)", float(line[np.argmin(abs(alpha - 1))])),
        ("largest loss for 0 ≤ α ≤ 1", float(line[between].max())),
        (f"falls at all {int(between.sum()) - 1} steps from α = 0 to 1",
         bool(np.all(np.diff(line[between]) <= 1e-9))),
        (f"α of the smallest loss on the grid ({alpha[0]:g} to {alpha[-1]:g})".replace("-", "−"),
         float(alpha[np.argmin(line)])),
        ("smallest loss on the line", float(line.min())),
    ])


def path_table(results: dict):
    """How much of the run's path θ_s − θ_end lies on the plane of its two main directions,
    and the lowest loss on that plane's grid.

    Args:
        results: what :func:`run` returns.

    Returns:
        A display DataFrame, one row per quantity.
    """
    from hw1.report import num

    share = np.asarray(results["pca_captured"])
    plane = np.asarray(results["pca_plane"])
    low = np.unravel_index(np.argmin(plane), plane.shape)
    where = (float(results["pca_a"][low[0]]), float(results["pca_b"][low[1]]))
    return _quantity_table([
        ("snapshots on the path", len(results["snapshot_epochs"])),
        ("axis 1: share of Σ‖θ_s − θ_end‖²", float(share[0])),
        ("axis 2: share", float(share[1])),
        ("both axes: share", float(share.sum())),
        ("off the plane: RMS share, √(1 − both shares)",
         float(np.sqrt(max(1 - share.sum(), 0)))),
        ("smallest loss on the plane's grid", float(plane.min())),
        ("where (axis 1, axis 2); the solution is at (0, 0)",
         f"({num(where[0])}, {num(where[1])})"),
    ])


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
    ax.plot(results["line_alpha"], results["line_loss"], "-o", ms=3)
    ax.set(yscale="log", xlabel="α in θ = (1 − α)·θ_init + α·θ_solution", ylabel="training loss",
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


def make_figures(results: dict) -> list[plt.Figure]:
    """Random plane (contour + 3-D), the line from init to solution, the PCA-plane path."""
    return [random_plane_figure(results), line_figure(results), path_figure(results)]
