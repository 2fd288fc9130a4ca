"""HW1-2 bonus (visualize the error surface): the loss around a trained MNIST solution on
planes of filter-normalized random directions (several direction seeds) and on the plane of
the Hessian's top two eigenvectors (Lanczos on Hessian-vector products), along the straight
line from initialization to the solution (training and test loss), under a rescaling of the
last layer, and on the PCA plane of that run's own trajectory (from
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
from hw1.experiments.optimization_trajectories.run import Config as TrajectoryConfig
from hw1.experiments.optimization_trajectories.run import run as run_trajectories
from hw1.metrics import filter_normalized_direction
from hw1.models import mlp
from hw1.plotting import save_figure
from hw1.store import RunStore


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the error-surface experiment.

    Attributes:
        run_index: which trajectory run (of the trajectory experiment) to look around.
        grid: points per axis of each 2-D grid.
        span: the random planes cover ``[-span, span]²`` in filter-normalized units.
        line_points: points on the line from initialization (α=0) to solution (α=1).
        direction_seeds: one random plane per seed (each seeds its two directions); the first
            is the one drawn in 3-D.
        scales: points c of the last-layer scan, logits c·f(x), c from 0.5 to 3.
        hessian_span: the Hessian plane covers ``[-s, s]²`` with s = ``hessian_span``·√(2/λ₁)
            (unit eigenvectors; the quadratic model rises by ``hessian_span``² along v₁ at
            the edge).
        lanczos_tol: relative tolerance of the Lanczos (ARPACK) eigenpairs.
    """

    name: ClassVar[str] = "error_surface"
    positive: ClassVar[tuple[str, ...]] = ("grid", "span", "line_points", "scales",
                                           "hessian_span", "lanczos_tol")
    run_index: int = 0
    grid: int = 31
    span: float = 1.0
    line_points: int = 41
    direction_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    scales: int = 26
    hessian_span: float = 2.0
    lanczos_tol: float = 1e-4

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.direction_seeds or any(s < 0 for s in self.direction_seeds):
            raise ValueError(f"direction_seeds must be non-negative ints, at least one; got "
                             f"{self.direction_seeds}")


Config.register(full=Config(), smoke=Config(grid=5, line_points=5, direction_seeds=(0, 1),
                                            scales=6))


def mlp_loss_on_plane(model: nn.Sequential, loss_fn, X: torch.Tensor, y: torch.Tensor,
                      d1: dict[str, torch.Tensor], d2: dict[str, torch.Tensor] | None,
                      alphas: torch.Tensor, betas: torch.Tensor | None = None,
                      chunk: int = 16384) -> torch.Tensor:
    """:func:`hw1.metrics.loss_on_plane` for an :func:`hw1.models.mlp`, faster: the first
    layer's pre-activations are linear in (α, β), X(W + αD₁ + βD₂)ᵀ = XWᵀ + αXD₁ᵀ + βXD₂ᵀ, so
    the three products are computed once per chunk and only the small later layers run per
    grid point.

    Args:
        model: ``Sequential(Flatten, Linear, ...)`` at the centre θ.
        loss_fn: batch-mean loss ``loss_fn(outputs (n, K), targets (n,)) -> scalar``.
        X: inputs ``(N, ...)``; y: targets ``(N,)``.
        d1, d2: directions (parameter name -> tensor); ``d2=None`` gives a 1-D curve.
        alphas: ``(A,)`` coefficients of ``d1``; betas: ``(B,)`` coefficients of ``d2``.
        chunk: samples per pass.

    Returns:
        ``(A, B)`` float64 losses, or ``(A,)`` when ``d2`` is None.

    Raises:
        ValueError: if the model does not start with ``Flatten`` and ``Linear``.
    """
    from torch.func import functional_call

    if len(model) < 3 or not isinstance(model[0], nn.Flatten) or not isinstance(model[1],
                                                                                nn.Linear):
        raise ValueError("mlp_loss_on_plane needs Sequential(Flatten, Linear, ...)")
    betas_ = betas if d2 is not None else torch.zeros(1)
    zero = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    e2 = d2 if d2 is not None else zero
    theta = {n: p.detach() for n, p in model.named_parameters()}
    rest = model[2:]
    out = torch.zeros(len(alphas), len(betas_), dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, len(X), chunk):
            x = model[0](X[start:start + chunk])
            yb = y[start:start + chunk]
            pre = [nn.functional.linear(x, d["1.weight"], d["1.bias"]) for d in (theta, d1, e2)]
            for i, a in enumerate(alphas):
                for j, b in enumerate(betas_):
                    h = pre[0] + a * pre[1] + b * pre[2]
                    params = {n: theta[n] + a * d1[n] + b * e2[n] for n in theta
                              if not n.startswith("1.")}
                    loss = loss_fn(functional_call(rest, params, (h,)), yb)
                    out[i, j] += float(loss) * len(x)
    out /= len(X)
    return out if d2 is not None else out[:, 0]


def top_hessian_eigenpairs(model: nn.Module, loss_fn, X: torch.Tensor, y: torch.Tensor,
                           k: int = 2, tol: float = 1e-4, seed: int = 0
                           ) -> tuple[np.ndarray, np.ndarray, int]:
    """The ``k`` algebraically largest eigenvalues of the Hessian of the loss and their unit
    eigenvectors, by Lanczos (ARPACK's ``eigsh``) on Hessian-vector products
    (forward-over-reverse ``torch.func``), never forming the Hessian.

    Args:
        model: the point θ (its parameters in ``named_parameters`` order).
        loss_fn: batch-mean loss; L(θ) = loss_fn(model(X), y).
        X: inputs ``(N, ...)``; y: targets ``(N, ...)``.
        k: eigenpairs wanted.
        tol: ARPACK's relative tolerance.
        seed: seeds the Lanczos start vector (an explicit generator).

    Returns:
        ``(eigenvalues (k,) descending, eigenvectors (k, P) unit rows, Hessian-vector products
        used)``.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh
    from torch.func import functional_call, grad, jvp

    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    sizes = [p.numel() for _, p in model.named_parameters()]
    flat = torch.cat([p.detach().flatten() for _, p in model.named_parameters()])

    def loss(vec: torch.Tensor) -> torch.Tensor:
        params = {n: t.view(s) for n, t, s in zip(names, vec.split(sizes), shapes, strict=True)}
        return loss_fn(functional_call(model, params, (X,)), y)

    calls = [0]

    def hvp(v: np.ndarray) -> np.ndarray:
        calls[0] += 1
        tangent = torch.as_tensor(np.asarray(v).ravel(), dtype=flat.dtype)
        return jvp(grad(loss), (flat,), (tangent,))[1].double().numpy()

    n = flat.numel()
    start = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    op = LinearOperator((n, n), matvec=hvp, dtype=np.float64)
    values, vectors = eigsh(op, k=k, which="LA", tol=tol, v0=start.numpy(),
                            ncv=min(n, max(2 * k + 1, 20)))
    order = np.argsort(values)[::-1]
    vectors = vectors[:, order].T
    return values[order], vectors / np.linalg.norm(vectors, axis=1, keepdims=True), calls[0]


def _as_model(flat: np.ndarray, shape_cfg: TrajectoryConfig, in_features: int,
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


def _compute(cfg: Config, tcfg: TrajectoryConfig, traj: dict) -> tuple[dict, str]:
    data = load_subset(tcfg.dataset, tcfg.n_train, tcfg.n_test)
    in_features, k = int(np.prod(data.input_shape)), data.num_classes
    snaps = traj["snapshots"][cfg.run_index]  # (S, P)
    solution = _as_model(snaps[-1], tcfg, in_features, k)
    loss_fn = nn.functional.cross_entropy
    X, y = data.x_train, data.y_train

    axis = torch.linspace(-cfg.span, cfg.span, cfg.grid)
    planes = []
    for seed in cfg.direction_seeds:
        gen = torch.Generator().manual_seed(seed)
        d1 = filter_normalized_direction(solution, gen)
        d2 = filter_normalized_direction(solution, gen)
        planes.append(mlp_loss_on_plane(solution, loss_fn, X, y, d1, d2, axis, axis))
    random_planes = torch.stack(planes)  # (seeds, grid, grid)

    line_alpha = torch.linspace(-0.5, 1.5, cfg.line_points)
    init = _as_model(snaps[0], tcfg, in_features, k)
    to_solution = _flat_to_dict(snaps[-1] - snaps[0], init)
    line = mlp_loss_on_plane(init, loss_fn, X, y, to_solution, None, line_alpha)
    line_test = mlp_loss_on_plane(init, loss_fn, data.x_test, data.y_test, to_solution, None,
                                  line_alpha)

    scales = torch.linspace(0.5, 3.0, cfg.scales)
    with torch.no_grad():
        logits = {"train": solution(X), "test": solution(data.x_test)}
        targets = {"train": y, "test": data.y_test}
        scaled = {part: torch.tensor([float(loss_fn(c * logits[part], targets[part]))
                                      for c in scales], dtype=torch.float64)
                  for part in logits}
        accuracy = {part: float((logits[part].argmax(1) == targets[part]).float().mean())
                    for part in logits}

    eigenvalues, eigenvectors, hvps = top_hessian_eigenpairs(solution, loss_fn, X, y, k=2,
                                                             tol=cfg.lanczos_tol)
    reach = cfg.hessian_span * float(np.sqrt(2 / max(eigenvalues[0], 1e-12)))
    h_axis = torch.linspace(-reach, reach, cfg.grid)
    hessian_plane = mlp_loss_on_plane(solution, loss_fn, X, y,
                                      _flat_to_dict(eigenvectors[0], solution),
                                      _flat_to_dict(eigenvectors[1], solution), h_axis, h_axis)

    offsets = snaps - snaps[-1]  # the run's trajectory relative to its end point
    _, sv, vt = np.linalg.svd(offsets, full_matrices=False)
    u1, u2 = vt[0], vt[1]
    captured = sv ** 2 / np.sum(sv ** 2)  # share of sum_s |θ_s − θ_end|² along each axis
    coords = offsets @ np.stack([u1, u2], 1)  # (S, 2)
    lo, hi = coords.min(0), coords.max(0)
    pad = 0.25 * (hi - lo) + 1e-6
    a_axis = torch.linspace(lo[0] - pad[0], hi[0] + pad[0], cfg.grid)
    b_axis = torch.linspace(lo[1] - pad[1], hi[1] + pad[1], cfg.grid)
    pca_plane = mlp_loss_on_plane(solution, loss_fn, X, y, _flat_to_dict(u1, solution),
                                  _flat_to_dict(u2, solution), a_axis, b_axis)
    result = {"axis": axis, "random_plane": random_planes[0], "random_planes": random_planes,
              "direction_seeds": list(cfg.direction_seeds), "line_alpha": line_alpha,
              "line_loss": line, "line_test_loss": line_test, "scales": scales,
              "scaled_loss": scaled, "accuracy": accuracy,
              "hessian_eigenvalues": eigenvalues, "hessian_hvps": hvps,
              "hessian_axis": h_axis, "hessian_plane": hessian_plane,
              "n_test": len(data.x_test),
              "pca_a": a_axis, "pca_b": b_axis, "pca_plane": pca_plane,
              "trajectory": coords, "snapshot_epochs": traj["snapshot_epochs"],
              "pca_captured": captured[:2],
              "n_eval": len(X)}
    return result, data.source


def _unit(cfg: Config, tcfg: TrajectoryConfig, spec: dict, seed: int) -> tuple[dict, str]:
    return _compute(cfg, tcfg, run_trajectories(tcfg))  # loads the stored trajectories


def run(cfg: Config, executor: Executor | None = None) -> dict:
    """Load the trajectory runs (training them if needed), then compute (or load) the surfaces.

    Args:
        cfg: the experiment's settings.
        executor: where to train the trajectories and compute the surfaces (one task each,
            one after the other); None: here.
    """
    tcfg = TrajectoryConfig.resolve()
    traj = run_trajectories(tcfg, executor=executor)
    if not 0 <= cfg.run_index < len(traj["snapshots"]):
        raise ValueError(f"run_index {cfg.run_index} is out of range: the trajectory experiment "
                         f"has {len(traj['snapshots'])} runs")
    spec = {**cfg.to_dict(), "trajectories": tcfg.to_dict()}
    [stored] = RunStore(cfg.name).sweep([(spec, 0)], partial(_unit, cfg, tcfg),
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
