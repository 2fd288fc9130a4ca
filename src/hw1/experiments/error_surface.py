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


def summary(results: dict) -> list[dict]:
    """Loss at the solution, at the grid's edges, and the barrier on the straight line."""
    plane = np.asarray(results["random_plane"])
    line = np.asarray(results["line_loss"])
    alpha = np.asarray(results["line_alpha"])
    between = (alpha >= 0) & (alpha <= 1)
    return [{"n_eval": int(results["n_eval"]), "last_epoch": int(results["snapshot_epochs"][-1]),
             "loss_at_solution": float(plane[len(plane) // 2, len(plane) // 2]),
             "random_plane_max": float(plane.max()),
             "line_loss_init": float(line[np.argmin(abs(alpha))]),
             "line_loss_solution": float(line[np.argmin(abs(alpha - 1))]),
             "line_max_between": float(line[between].max()),
             "line_monotone_between": bool(np.all(np.diff(line[between]) <= 1e-9)),
             "line_argmin_alpha": float(alpha[np.argmin(line)]),
             "path_axis1_share": float(results["pca_captured"][0]),
             "path_axis2_share": float(results["pca_captured"][1]),
             "path_axes_share": float(np.sum(results["pca_captured"])),
             "off_plane_rms_share": float(np.sqrt(max(1 - np.sum(results["pca_captured"]), 0)))}]


def make_figures(results: dict) -> list[plt.Figure]:
    """Random plane (contour + 3-D), the line from init to solution, the PCA-plane path."""
    axis = np.asarray(results["axis"])
    Z = np.log10(np.asarray(results["random_plane"])).T  # rows = beta
    A, B = np.meshgrid(axis, axis)
    fig1 = plt.figure(figsize=(11, 4.4))
    ax = fig1.add_subplot(1, 2, 1)
    cs = ax.contourf(A, B, Z, levels=30, cmap="viridis")
    ax.contour(A, B, Z, levels=15, colors="white", linewidths=0.4, linestyles="solid")
    ax.set_aspect("equal")
    ax.plot([0], [0], "r*", ms=10)  # labelled in place: a legend's star read as a 2nd one
    ax.annotate("solution", (0, 0), xytext=(6, -12), textcoords="offset points", color="white",
                fontsize=8, fontweight="bold")
    ax.xaxis.set_major_locator(MaxNLocator(5))
    fig1.colorbar(cs, ax=ax, label="log10 training loss")
    ax.set(xlabel="α (filter-normalized direction 1)", ylabel="β (direction 2)",
           title="Loss around the MNIST solution")
    ax3 = fig1.add_subplot(1, 2, 2, projection="3d")
    ax3.plot_surface(A, B, Z, cmap="viridis", linewidth=0)
    for axis3 in (ax3.xaxis, ax3.yaxis, ax3.zaxis):
        axis3.set_major_locator(MaxNLocator(4))
    ax3.tick_params(labelsize=7, pad=1)
    ax3.set(xlabel="α", ylabel="β", title="The same surface in 3-D")
    ax3.set_zlabel("log10 loss", labelpad=2)
    save_figure(fig1, "error_surface_random_plane")

    fig2, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(results["line_alpha"], results["line_loss"], "-o", ms=3)
    ax.set(yscale="log", xlabel="α in θ = (1-α)·θ_init + α·θ_solution", ylabel="training loss",
           title="Loss along the straight line from initialization to solution")
    for a, label in ((0, "initialization"), (1, "solution")):
        ax.axvline(a, color="grey", ls=":", lw=1)
        ax.annotate(label, (a, 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                    ha="center", va="bottom")
    save_figure(fig2, "error_surface_line_init_to_solution")

    a, b = np.asarray(results["pca_a"]), np.asarray(results["pca_b"])
    Aa, Bb = np.meshgrid(a, b)
    fig3, ax = plt.subplots(figsize=(6.4, 4.8))
    cs = ax.contourf(Aa, Bb, np.log10(np.asarray(results["pca_plane"])).T, levels=30,
                     cmap="viridis")
    fig3.colorbar(cs, ax=ax, label="log10 training loss")
    traj = np.asarray(results["trajectory"])
    ax.plot(traj[:, 0], traj[:, 1], "-o", color="red", ms=3, lw=1)
    for (x, y), e in zip(traj, results["snapshot_epochs"], strict=True):
        ax.annotate(f"{e}", (x, y), fontsize=6, color="black", xytext=(3, 3),
                    textcoords="offset points",
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7})
    ax.set_aspect("equal")  # both axes are distances in parameter space
    share = np.asarray(results["pca_captured"])
    ax.set(xlabel=f"axis 1 of the run's path ({100 * share[0]:.1f}% of Σ‖θ_s − θ_end‖²)",
           ylabel=f"axis 2 ({100 * share[1]:.1f}%)",
           title="Training path on the plane of its two main directions\n(SVD of θ_s − θ_end, "
                 "not centred; labels: epoch; equal scales)")
    save_figure(fig3, "error_surface_pca_trajectory")
    return [fig1, fig2, fig3]
