"""The tables of the error-surface experiment: the random planes, the Hessian plane and its
quadratic model, the line from initialization to solution, the last-layer scale and the
path's plane, and the scale and line repeated on every trajectory run (forward passes over
the stored runs)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hw1.data import load_subset
from hw1.experiments.optimization_trajectories.run import Config as TrajectoryConfig
from hw1.experiments.optimization_trajectories.run import run as run_trajectories

from .run import _as_model, _flat_to_dict, mlp_loss_on_plane


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
    """The training and test loss on the straight line θ = (1 − α)·θ_init + α·θ_solution.

    Args:
        results: what :func:`run` returns.

    Returns:
        A display DataFrame, one row per quantity.
    """
    line = np.asarray(results["line_loss"])
    test = np.asarray(results["line_test_loss"])
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
        (f"test loss ({int(results['n_test']):,} images) at the initialization",
         float(test[np.argmin(abs(alpha))])),
        ("test loss at the solution", float(test[np.argmin(abs(alpha - 1))])),
        ("α of the smallest test loss", float(alpha[np.argmin(test)])),
        ("smallest test loss on the line", float(test.min())),
    ])


def random_planes_table(results: dict):
    """Per direction seed: the random plane's largest loss, where its smallest loss lies, and
    how many grid points are lower than all their neighbours.

    Args:
        results: what :func:`run` returns.

    Returns:
        A display DataFrame, one row per direction seed.
    """
    from hw1.report import num, table

    planes = np.asarray(results["random_planes"])
    axis = np.asarray(results["axis"])
    n = len(axis)
    rows = []
    for seed, plane in zip(results["direction_seeds"], planes, strict=True):
        low = np.unravel_index(np.argmin(plane), plane.shape)
        rows.append({"direction seed": seed, "loss at the solution": float(plane[n // 2, n // 2]),
                     "largest loss on the grid": float(plane.max()),
                     "mean loss on the grid's edge": float(np.concatenate(
                         [plane[0], plane[-1], plane[1:-1, 0], plane[1:-1, -1]]).mean()),
                     "(α, β) of the smallest loss": "({}, {})".format(
                         *(num(round(float(axis[i]), 6) + 0.0) for i in low)),
                     "points lower than all neighbours": _local_minima(plane)})
    return table(rows)


def hessian_table(results: dict):
    """The Hessian's top two eigenvalues (Lanczos) and the loss on the plane of their
    eigenvectors v₁, v₂ (unit length), beside the quadratic model L₀ + ½λs² at the edges.

    Args:
        results: what :func:`run` returns.

    Returns:
        A display DataFrame, one row per quantity.
    """
    from hw1.report import num

    lam = np.asarray(results["hessian_eigenvalues"])
    plane = np.asarray(results["hessian_plane"])
    axis = np.asarray(results["hessian_axis"])
    n, reach = len(axis), float(axis[-1])
    centre = float(plane[n // 2, n // 2])
    low = np.unravel_index(np.argmin(plane), plane.shape)
    return _quantity_table([
        ("λ₁, largest Hessian eigenvalue", float(lam[0])),
        ("λ₂, second largest", float(lam[1])),
        ("Hessian-vector products used by Lanczos", int(results["hessian_hvps"])),
        ("grid half-width s (parameter space)", reach),
        ("loss at the solution", centre),
        ("loss at ±s along v₁, mean of the two ends",
         float((plane[0, n // 2] + plane[-1, n // 2]) / 2)),
        ("quadratic model there, L₀ + ½λ₁s²", centre + 0.5 * float(lam[0]) * reach ** 2),
        ("loss at ±s along v₂, mean of the two ends",
         float((plane[n // 2, 0] + plane[n // 2, -1]) / 2)),
        ("quadratic model there, L₀ + ½λ₂s²", centre + 0.5 * float(lam[1]) * reach ** 2),
        ("(a, b) of the smallest loss on the grid", "({}, {})".format(
            *(num(round(float(axis[i]), 6) + 0.0) for i in low))),
        ("grid points lower than all their neighbours", _local_minima(plane)),
    ])


def hessian_radii_table(results: dict, fractions: tuple[float, ...] = (1 / 8, 1 / 4, 1 / 2, 1)):
    """The rise of the loss along v₁ and v₂ at several distances r from the solution, beside
    the quadratic model's ½λr², from the stored Hessian-plane grid: r is the grid point
    nearest to each fraction of the half-width s, and the rise is the mean of the two ends
    ±r minus the loss at the solution (the mean cancels the gradient's linear term).

    Args:
        results: what :func:`run` returns.
        fractions: the wanted r ÷ s (the nearest grid points are used).

    Returns:
        A display DataFrame, one row per distance.
    """
    from hw1.report import table

    lam = np.asarray(results["hessian_eigenvalues"])
    plane = np.asarray(results["hessian_plane"])
    axis = np.asarray(results["hessian_axis"])
    n = len(axis)
    centre, half = n // 2, n // 2
    loss0 = float(plane[centre, centre])
    rows = []
    for k in sorted({max(1, round(f * half)) for f in fractions}):
        r = float(axis[centre + k])
        rise1 = (plane[centre - k, centre] + plane[centre + k, centre]) / 2 - loss0
        rise2 = (plane[centre, centre - k] + plane[centre, centre + k]) / 2 - loss0
        rows.append({"r ÷ s": r / float(axis[-1]), "r": r,
                     "rise along v₁": float(rise1), "½λ₁r²": 0.5 * lam[0] * r ** 2,
                     "v₁: measured ÷ quadratic": float(rise1) / (0.5 * lam[0] * r ** 2),
                     "rise along v₂": float(rise2), "½λ₂r²": 0.5 * lam[1] * r ** 2,
                     "v₂: measured ÷ quadratic": float(rise2) / (0.5 * lam[1] * r ** 2)})
    return table(rows)


def repeat_over_runs(results: dict) -> dict[str, np.ndarray]:
    """The last-layer scan and the line from initialization to solution, repeated on every
    stored run of the trajectory experiment (forward passes only; the trajectories are loaded
    from the run store, or trained if missing), on the same c and α grids as ``results``.

    Args:
        results: what :func:`run` returns (for its c and α grids).

    Returns:
        ``c`` ``(C,)``, ``alpha`` ``(A,)``, and per run ``(R, C)`` ``scaled_train`` and
        ``scaled_test``, ``(R, A)`` ``line_train`` and ``line_test``, ``(R,)``
        ``train_acc``.
    """
    tcfg = TrajectoryConfig.resolve()
    traj = run_trajectories(tcfg)
    data = load_subset(tcfg.dataset, tcfg.n_train, tcfg.n_test)
    in_features, k = int(np.prod(data.input_shape)), data.num_classes
    loss_fn = nn.functional.cross_entropy
    c = torch.as_tensor(np.asarray(results["scales"]), dtype=torch.float32)
    alpha = torch.as_tensor(np.asarray(results["line_alpha"]), dtype=torch.float32)
    out: dict[str, list] = {key: [] for key in ("scaled_train", "scaled_test", "line_train",
                                                "line_test", "train_acc")}
    for snaps in np.asarray(traj["snapshots"]):  # (S, P) per run
        solution = _as_model(snaps[-1], tcfg, in_features, k)
        init = _as_model(snaps[0], tcfg, in_features, k)
        to_solution = _flat_to_dict(snaps[-1] - snaps[0], init)
        with torch.no_grad():
            for part, (x, y) in (("train", (data.x_train, data.y_train)),
                                 ("test", (data.x_test, data.y_test))):
                logits = solution(x)
                out[f"scaled_{part}"].append([float(loss_fn(v * logits, y)) for v in c])
                out[f"line_{part}"].append(
                    mlp_loss_on_plane(init, loss_fn, x, y, to_solution, None, alpha).numpy())
                if part == "train":
                    out["train_acc"].append(float((logits.argmax(1) == y).float().mean()))
    return {"c": c.double().numpy(), "alpha": alpha.double().numpy(),
            **{key: np.asarray(v, dtype=float) for key, v in out.items()}}


def runs_table(rep: dict):
    """Per run of the trajectory experiment: the last-layer scan (training loss at c = 1, the
    c of its smallest value and that value) and the line from initialization to solution
    (does the training loss fall at every step from α = 0 to 1, the α of its smallest value
    and of the smallest test loss); whether the smallest loss over c lies at the grid's last
    c (so the minimum may lie beyond it); the last row is the mean ± 95% t over runs.

    Args:
        rep: what :func:`repeat_over_runs` returns.

    Returns:
        A display DataFrame, one row per run and a summary row.
    """
    from hw1.report import ci, table

    c, alpha = rep["c"], rep["alpha"]
    at_one = int(np.argmin(abs(c - 1)))
    solution = int(np.argmin(abs(alpha - 1)))
    between = (alpha >= 0) & (alpha <= 1)
    cols = {"training loss at c = 1": rep["scaled_train"][:, at_one],
            "c of the smallest": c[np.argmin(rep["scaled_train"], 1)],
            "smallest over c": rep["scaled_train"].min(1),
            "α of the smallest": alpha[np.argmin(rep["line_train"], 1)],
            "smallest on the line ÷ at α = 1": rep["line_train"].min(1)
            / rep["line_train"][:, solution],
            "α of the smallest test loss": alpha[np.argmin(rep["line_test"], 1)]}
    falls = np.all(np.diff(rep["line_train"][:, between], axis=1) <= 1e-9, axis=1)
    edge = cols["c of the smallest"] >= c[-1]
    rows = [{"run": str(r), "training acc. %": 100 * rep["train_acc"][r],
             **{name: float(v[r]) for name, v in cols.items()},
             f"c at the grid's end ({c[-1]:g})": bool(edge[r]),
             "falls at every step, α 0 → 1": bool(falls[r])} for r in range(len(falls))]
    rows.append({"run": "mean ± 95% t", "training acc. %": ci(100 * rep["train_acc"]),
                 **{name: ci(v) for name, v in cols.items()},
                 f"c at the grid's end ({c[-1]:g})": f"{int(edge.sum())} of {len(edge)}",
                 "falls at every step, α 0 → 1": f"{int(falls.sum())} of {len(falls)}"})
    return table(rows)


def scale_table(results: dict):
    """The loss with the logits scaled by c (the last layer's weights and bias times c) at the
    solution: where the training and the test loss are smallest over c, and by how much less
    than at c = 1. Accuracy does not depend on c > 0.

    Args:
        results: what :func:`run` returns.

    Returns:
        A display DataFrame, one row per quantity.
    """
    c = np.asarray(results["scales"])
    rows: list[tuple[str, object]] = []
    for part, images in (("training", results["n_eval"]), ("test", results["n_test"])):
        loss = np.asarray(results["scaled_loss"]["train" if part == "training" else "test"])
        at_one = float(np.interp(1.0, c, loss)) if 1.0 not in c else float(loss[c == 1.0][0])
        rows += [(f"{part} loss at c = 1 ({int(images):,} images)", at_one),
                 (f"c of the smallest {part} loss (grid step {c[1] - c[0]:.2g})",
                  float(c[np.argmin(loss)])),
                 (f"smallest {part} loss over c", float(loss.min())),
                 (f"{part} accuracy % (any c > 0)", 100 * float(results["accuracy"][
                     "train" if part == "training" else "test"]))]
    return _quantity_table(rows)


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
