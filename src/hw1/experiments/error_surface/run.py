"""The compute path of the error-surface experiment: its settings, the loss on a plane of
directions around a point, the Hessian's top eigenpairs, and the surfaces around one stored
trajectory run."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from hw1.config import ExperimentConfig
from hw1.data import load_subset
from hw1.experiments.optimization_trajectories.run import Config as TrajectoryConfig
from hw1.experiments.optimization_trajectories.run import run as run_trajectories
from hw1.metrics import filter_normalized_direction
from hw1.models import mlp
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
