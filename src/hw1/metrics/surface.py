"""Loss landscapes: filter-normalized directions, loss on a plane and along a line.

Filter normalization (Li et al. 2018): a random direction ``d`` with the shape of every
parameter is rescaled filter by filter, ``d_i <- d_i / ‖d_i‖ · ‖θ_i‖``, where a filter is one
output unit's incoming weights (a row of a Linear weight, one output channel of a conv
kernel); biases and other 1-D parameters get a zero direction. The resulting plots are then
invariant to the rescaling symmetries of ReLU networks.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from hw1.metrics._common import LossFn, eval_mode


def filter_normalized_direction(model: nn.Module, generator: torch.Generator
                                ) -> dict[str, torch.Tensor]:
    """A random Gaussian direction, filter-normalized to ``model``'s weights.

    Returns:
        ``{parameter name: tensor of that parameter's shape}``.
    """
    direction = {}
    for name, p in model.named_parameters():
        d = torch.randn(p.shape, generator=generator, dtype=p.dtype)
        if p.dim() <= 1:
            direction[name] = torch.zeros_like(p)
            continue
        flat_d, flat_p = d.reshape(len(d), -1), p.detach().reshape(len(p), -1)
        scale = flat_p.norm(dim=1, keepdim=True) / flat_d.norm(dim=1, keepdim=True).clamp_min(
            1e-12)
        direction[name] = (flat_d * scale).reshape(p.shape)
    return direction


def difference_direction(model_from: nn.Module, model_to: nn.Module) -> dict[str, torch.Tensor]:
    """``θ_to - θ_from`` per parameter (for the straight line between two models)."""
    to = dict(model_to.named_parameters())
    return {n: (to[n] - p).detach() for n, p in model_from.named_parameters()}


@torch.no_grad()
def loss_on_plane(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                  d1: dict[str, torch.Tensor], d2: dict[str, torch.Tensor] | None,
                  alphas: torch.Tensor, betas: torch.Tensor | None = None,
                  chunk: int = 4096) -> torch.Tensor:
    """Loss at ``θ + α d1 + β d2`` for every ``α`` in ``alphas`` and ``β`` in ``betas``.

    Args:
        model: the centre θ (eval mode during the call, restored after).
        loss_fn, X, y: L = loss_fn(model(X), y), averaged over ``X`` in chunks.
        d1, d2: directions (parameter name -> tensor); ``d2=None`` gives a 1-D curve.
        alphas: ``(A,)`` coefficients of ``d1``; betas: ``(B,)`` coefficients of ``d2``.

    Returns:
        ``(A, B)`` losses, or ``(A,)`` when ``d2`` is None.
    """
    betas_ = betas if d2 is not None else torch.zeros(1)
    theta = {n: p.detach() for n, p in model.named_parameters()}
    buffers = dict(model.named_buffers())
    out = torch.empty(len(alphas), len(betas_), dtype=torch.float64)
    with eval_mode(model):
        for i, a in enumerate(alphas):
            for j, b in enumerate(betas_):
                params = {n: t + a * d1[n] + (b * d2[n] if d2 is not None else 0)
                          for n, t in theta.items()}
                total = 0.0
                for s in range(0, len(X), chunk):
                    xb, yb = X[s:s + chunk], y[s:s + chunk]
                    total += loss_fn(functional_call(model, {**params, **buffers}, (xb,)),
                                     yb).item() * len(xb)
                out[i, j] = total / len(X)
    return out if d2 is not None else out[:, 0]
