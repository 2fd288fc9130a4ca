"""ε-sharpness (Keskar et al. 2017, "On Large-Batch Training for Deep Learning").

    sharpness = 100 · (max_{δ ∈ C_ε} L(θ + δ) − L(θ)) / (1 + L(θ)),
    C_ε = {δ : |δ_i| ≤ ε (|θ_i| + 1)}   (the box in full parameter space, A = I)

The inner maximum is found by L-BFGS-B on −L(θ + δ) with the box as bounds. Each search
starts at a random point inside the box, not at δ = 0: at a minimum the gradient vanishes
and a search from there never moves. Several starts are taken and the best is kept.

Maximizing even a convex quadratic over a box is NP-hard in general, and each L-BFGS-B search
ends at a local maximum (typically a vertex of the box), so the result is a lower bound on
the true maximum that tightens with ``restarts`` (Keskar et al. used a single search). The
test suite checks it against an exhaustive search over the box's vertices.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import minimize
from torch import nn

from hw1.metrics._common import LossFn, eval_mode, flat_loss


def sharpness(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
              epsilon: float = 1e-3, restarts: int = 5, max_iterations: int = 20,
              seed: int = 0) -> float:
    """Keskar ε-sharpness of ``model`` on ``(X, y)`` (a percentage, ≥ 0).

    Args:
        model, loss_fn, X, y: L(θ) = loss_fn(model(X), y).
        epsilon: relative box size ε.
        restarts: independent L-BFGS-B searches, each from a random point in the box.
        max_iterations: L-BFGS-B iterations per search.
        seed: seeds the start points.
    """
    return sharpness_details(model, loss_fn, X, y, epsilon, restarts, max_iterations,
                             seed)["normalized"]


def sharpness_details(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                      epsilon: float = 1e-3, restarts: int = 5, max_iterations: int = 20,
                      seed: int = 0) -> dict[str, float]:
    """The ε-sharpness search of :func:`sharpness`, with its parts.

    Near a minimum with Hessian H, the raw increase behaves like ``½ δᵀHδ`` over the box, so
    it scales like ε² (halving ε divides it by 4); a gradient term ``gᵀδ`` scales like ε.

    Returns:
        ``{"normalized": Keskar's percentage, "raw": max L(θ + δ) − L(θ) (≥ 0),
        "loss": L(θ)}``, all in float64 arithmetic.
    """
    if epsilon <= 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    if restarts < 1:
        raise ValueError(f"restarts must be >= 1, got {restarts}")
    with eval_mode(model):
        f, theta = flat_loss(model, loss_fn, X, y, dtype=torch.float64)
        base = float(f(theta))
        half = (epsilon * (theta.abs() + 1)).numpy()
        bounds = list(zip(-half, half, strict=True))

        def neg_loss_and_grad(delta: np.ndarray) -> tuple[float, np.ndarray]:
            d = torch.from_numpy(delta).requires_grad_(True)
            loss = f(theta + d)
            (g,) = torch.autograd.grad(loss, d)
            return -loss.item(), -g.numpy()

        rng = np.random.default_rng(seed)
        best = base
        for _ in range(restarts):
            start = rng.uniform(-half, half)
            res = minimize(neg_loss_and_grad, start, jac=True, method="L-BFGS-B", bounds=bounds,
                           options={"maxiter": max_iterations})
            best = max(best, -float(res.fun), -neg_loss_and_grad(start)[0])
    return {"normalized": 100.0 * (best - base) / (1.0 + base), "raw": best - base,
            "loss": base}
