"""Finding critical points of many small networks at once (HW1-2 "minimal ratio").

Phase 1 trains every run on its loss; phase 2 switches the objective to the squared gradient
norm ``‖∇L(θ)‖²``, a real differentiable objective whose gradient ``2 H ∇L`` comes from
differentiating through the gradient (``torch.func.grad`` of ``grad``), not a loss value
overwritten by a number. All R runs share one architecture; their parameters are stacked and
every step is one ``vmap`` call. :func:`refine_critical_point` then polishes one end point in
float64 (Levenberg–Marquardt on ``∇L``) to a far smaller gradient norm.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad, jacrev, stack_module_state, vmap

from hw1.metrics._common import eval_mode, flat_loss
from hw1.metrics.curvature import _check_hessian_size
from hw1.progress import progress

Params = dict[str, torch.Tensor]


def per_model_loss(base: nn.Module, loss_fn: Callable, X: torch.Tensor, y: torch.Tensor
                   ) -> Callable[[Params], torch.Tensor]:
    """``L(params)`` for one model's parameter dict, on the full data ``X, y``."""
    return lambda params: loss_fn(functional_call(base, params, (X,)), y)


def gradient_norm_squared(loss: Callable[[Params], torch.Tensor]
                          ) -> Callable[[Params], torch.Tensor]:
    """``θ -> ‖∇L(θ)‖²`` as a differentiable function of one model's parameters."""
    g = grad(loss)
    return lambda params: sum((t ** 2).sum() for t in g(params).values())


@dataclass
class CriticalPointResult:
    """What :func:`find_critical_points` returns; every tensor has a leading run axis R.

    Attributes:
        models: the R final models (ordinary modules, eval mode).
        loss: ``(R,)`` final loss on the full training data.
        grad_norm: ``(R,)`` final gradient norm.
        converged: ``(R,)`` whether phase 2 got the gradient norm below the threshold.
        phase2_steps: ``(R,)`` phase-2 steps taken until convergence (or the limit).
        grad_norm_trace: ``(T, R)`` gradient norm every ``trace_every`` phase-2 steps.
    """

    models: list[nn.Module]
    loss: torch.Tensor
    grad_norm: torch.Tensor
    converged: torch.Tensor
    phase2_steps: torch.Tensor
    grad_norm_trace: torch.Tensor


def find_critical_points(models: Sequence[nn.Module], loss_fn: Callable, X: torch.Tensor,
                         y: torch.Tensor, *, phase1_steps: int, phase1_lr: float,
                         phase2_steps: int, phase2_lr: float, threshold: float,
                         trace_every: int = 50, desc: str = "critical points"
                         ) -> CriticalPointResult:
    """Train R models on the loss, then descend their gradient norms, all at once.

    Both phases are full-batch Adam on ``X, y``. A run whose gradient norm falls below
    ``threshold`` in phase 2 is frozen there (its parameters stop changing); runs that never
    get there are reported with ``converged=False``, not dropped.

    Args:
        models: R models of one architecture (no buffers).
        loss_fn: ``loss_fn(output, target)`` returning a scalar.
        X, y: the full training data ``(N, ...)``.
        phase1_steps, phase1_lr: loss-minimization steps and learning rate.
        phase2_steps, phase2_lr: gradient-norm-minimization step limit and learning rate.
        threshold: gradient norm at which a run counts as at a critical point.
        trace_every: record every run's gradient norm this often in phase 2.
    """
    for name, v in (("phase1_steps", phase1_steps), ("phase2_steps", phase2_steps)):
        if v < 0:
            raise ValueError(f"{name} must be >= 0, got {v}")
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    base = copy.deepcopy(models[0]).to("meta")
    stacked, _ = stack_module_state(list(models))
    params = {k: v.detach().clone().requires_grad_(True) for k, v in stacked.items()}
    loss = per_model_loss(base, loss_fn, X, y)
    losses = vmap(loss)
    loss_grads = vmap(grad(loss))
    gn2 = gradient_norm_squared(loss)
    R = len(models)

    def gn2_with_value(p: Params) -> tuple[torch.Tensor, torch.Tensor]:
        value = gn2(p)
        return value, value.detach()

    # one call gives both the gradient of ‖∇L‖² and ‖∇L‖² itself (as the auxiliary output)
    gn2_grads_and_values = vmap(grad(gn2_with_value, has_aux=True))

    def norms() -> torch.Tensor:
        g = loss_grads(params)
        return torch.sqrt(sum((t.reshape(R, -1) ** 2).sum(1) for t in g.values()))

    opt = torch.optim.Adam(list(params.values()), lr=phase1_lr)
    for _ in progress(range(phase1_steps), desc=f"{desc}: phase 1 (loss)", leave=False):
        with torch.no_grad():
            grads = loss_grads(params)
        for k, p in params.items():
            p.grad = grads[k]
        opt.step()

    opt = torch.optim.Adam(list(params.values()), lr=phase2_lr)
    converged = torch.zeros(R, dtype=torch.bool)
    steps = torch.full((R,), phase2_steps)
    trace = []
    for step in progress(range(phase2_steps + 1), desc=f"{desc}: phase 2 (gradient norm)",
                     leave=False):
        with torch.no_grad():
            grads, squared = gn2_grads_and_values(params)
        now = squared.sqrt()
        newly = (now < threshold) & ~converged
        steps[newly] = step
        converged |= newly
        if step % trace_every == 0:
            trace.append(now.clone())
        if converged.all() or step == phase2_steps:
            break
        keep = {k: p.detach().clone() for k, p in params.items()}
        for k, p in params.items():
            p.grad = grads[k]
        opt.step()
        with torch.no_grad():  # frozen runs stay where they converged
            for k, p in params.items():
                mask = converged.view(R, *([1] * (p.dim() - 1)))
                p.copy_(torch.where(mask, keep[k], p))

    with torch.no_grad():
        final_loss, final_norm = losses(params), norms()
    out_models = []
    for r in range(R):
        m = copy.deepcopy(models[0])
        with torch.no_grad():
            for name, p in m.named_parameters():
                p.copy_(params[name][r])
        out_models.append(m.eval())
    return CriticalPointResult(out_models, final_loss.detach(), final_norm.detach(), converged,
                               steps, torch.stack(trace))


def refine_critical_point(model: nn.Module, loss_fn: Callable, X: torch.Tensor, y: torch.Tensor,
                          *, tol: float = 1e-6, max_iter: int = 100, damping: float = 1e-6,
                          chunk_size: int = 32) -> dict:
    """Polish one approximate critical point in float64 until ``‖∇L‖ <= tol``.

    Levenberg–Marquardt on the residual ``r(θ) = ∇L(θ)`` (whose Jacobian is the Hessian
    ``H``), i.e. damped Gauss-Newton for ``min ½‖∇L(θ)‖²``: every trial step solves

        ``(H² + μ I) δ = −H g``,   ``g = ∇L(θ)``,

    with the exact float64 Hessian (Levenberg 1944, "A method for the solution of certain
    non-linear problems in least squares"; Marquardt 1963, "An algorithm for least-squares
    estimation of nonlinear parameters"). The step is taken only if it lowers ``‖∇L‖``;
    then ``μ`` is divided by 10 (towards Newton's step ``−H⁻¹g``, quadratic convergence near
    a nondegenerate critical point), otherwise it is multiplied by 10 (towards a short
    gradient step on ``½‖∇L‖²``) and the step retried from the same point. Since only
    ``‖∇L‖`` is monitored, this converges to critical points of any index (saddles as well as
    minima), unlike Newton or L-BFGS on ``L`` itself, which are drawn to minima.

    The system is solved through the eigendecomposition ``H = QΛQᵀ`` (one per accepted step,
    reused by the retries): ``δ = −Q diag(λ / (λ² + μ)) Qᵀ g``. ``μ`` starts at
    ``damping * max|λ|²`` and never falls below ``(P eps max|λ|)²``, the square of the
    numerical-zero level of :func:`hw1.metrics.curvature.default_tolerance`.

    It can also stop where no critical point is near: at a local minimum of ``‖∇L‖`` with
    ``‖∇L‖ > 0`` (``H∇L ≈ 0``, e.g. a flat region whose gradient lies in near-null directions
    of ``H``), or on a ReLU kink, where ``∇L`` jumps. Such runs end with ``converged=False``
    (``"max_iter"`` or ``"stalled"``); that is a finding about the start point, not an error.

    Works on a float64 copy: the caller's model (values, dtype, train/eval mode) is never
    modified. Parameters are flattened in ``model.parameters()`` order; the loss is taken
    in eval mode on the full data.

    Args:
        model: the network at the approximate critical point (P parameters; small enough for
            the full ``P x P`` Hessian, see :data:`hw1.metrics.curvature.HESSIAN_MEMORY_LIMIT`).
        loss_fn: ``loss_fn(output, target)`` returning a scalar.
        X, y: the full training data ``(N, ...)`` (cast to float64 if floating).
        tol: target gradient norm (> 0).
        max_iter: most trial steps (each one linear solve and one gradient evaluation,
            accepted or not; the Hessian is recomputed after accepted steps only), >= 1.
        damping: initial ``μ`` relative to ``max|λ|²`` (> 0). Small by default: the start is
            meant to be near a critical point, where the almost undamped (Newton) step is
            right; a rejected step costs one gradient evaluation, not a Hessian.
        chunk_size: Hessian columns per vmapped batch (memory vs speed).

    Returns:
        dict with

        - ``params``: ``(P,)`` float64 torch tensor, the refined flat parameters;
        - ``model``: a float64 copy of ``model`` holding ``params``, in eval mode (feed it
          float64 inputs);
        - ``loss``, ``grad_norm``: float, at ``params`` (float64);
        - ``start_loss``, ``start_grad_norm``: float, at the given point (float64);
        - ``converged``: bool, ``grad_norm <= tol``;
        - ``reason``: ``"tol"``, ``"max_iter"`` or ``"stalled"`` (the trial step no longer
          moves θ at float64 resolution: ``tol`` is below the attainable rounding floor, or
          the iteration is stuck away from a critical point);
        - ``iterations``: trial steps taken; ``accepted``: how many of them were kept;
        - ``damping``: the final ``μ``; ``distance``: ``‖θ_final − θ_start‖``.

    Raises:
        ValueError: for ``tol <= 0``, ``max_iter < 1`` or ``damping <= 0``.
        MemoryError: when the float64 Hessian would exceed the metrics' memory limit.
    """
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    if not damping > 0:
        raise ValueError(f"damping must be positive, got {damping}")
    work = copy.deepcopy(model).to(torch.float64)
    P = sum(p.numel() for p in work.parameters())
    _check_hessian_size(P)
    with eval_mode(work):  # the copy flat_loss makes keeps eval mode
        f, theta = flat_loss(work, loss_fn, X, y, dtype=torch.float64)
    grad_f = grad(f)
    hess_f = jacrev(grad_f, chunk_size=chunk_size)
    eps = torch.finfo(torch.float64).eps

    theta0 = theta.clone()
    g = grad_f(theta)
    g_norm = float(g.norm())
    start_loss, start_norm = float(f(theta)), g_norm
    mu = mu_min = None
    iterations = accepted = 0
    need_hessian, reason = True, "tol"
    while g_norm > tol:
        if iterations == max_iter:
            reason = "max_iter"
            break
        if need_hessian:
            H = hess_f(theta)
            lam, Q = torch.linalg.eigh((H + H.T) / 2)
            g_eig = Q.T @ g
            scale = float(lam.abs().max()) ** 2 or 1.0
            if mu is None:
                mu = damping * scale
            mu_min = (P * eps) ** 2 * scale
            mu = max(mu, mu_min)
            need_hessian = False
        delta = -Q @ (lam / (lam ** 2 + mu) * g_eig)
        step = float(delta.norm())
        if step == 0.0 or step <= eps * float(theta.norm()):
            reason = "stalled"
            break
        iterations += 1
        trial = theta + delta
        g_trial = grad_f(trial)
        trial_norm = float(g_trial.norm())
        if trial_norm < g_norm:  # False for NaN too
            theta, g, g_norm = trial, g_trial, trial_norm
            accepted += 1
            mu = max(mu / 10, mu_min)
            need_hessian = True
        else:
            mu *= 10

    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(theta, work.parameters())
    return {"params": theta.detach(), "model": work.eval(), "loss": float(f(theta)),
            "grad_norm": g_norm, "start_loss": start_loss, "start_grad_norm": start_norm,
            "converged": g_norm <= tol, "reason": reason,
            "iterations": iterations, "accepted": accepted, "damping": float(mu or 0.0),
            "distance": float((theta - theta0).norm())}
