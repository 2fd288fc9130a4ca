"""Finding critical points of many small networks at once (HW1-2 "minimal ratio").

Phase 1 trains every run on its loss; phase 2 switches the objective to the squared gradient
norm ``‖∇L(θ)‖²``, a real differentiable objective whose gradient ``2 H ∇L`` comes from
differentiating through the gradient (``torch.func.grad`` of ``grad``), not a loss value
overwritten by a number. All R runs share one architecture; their parameters are stacked and
every step is one ``vmap`` call.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad, stack_module_state, vmap

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
