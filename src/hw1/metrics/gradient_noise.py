"""The full-batch gradient and the sampling noise of mini-batch gradients.

For mini-batches of ``B`` samples drawn uniformly without replacement from ``N``, the
mini-batch gradient g_B = (1/B) Σ_{i∈B} g_i is an unbiased estimate of the full-batch gradient
∇L = (1/N) Σ_i g_i, and

    E‖g_B‖² = ‖∇L‖² + (N − B)/(N − 1) · tr Σ / B,

with Σ = (1/N) Σ_i (g_i − ∇L)(g_i − ∇L)ᵀ the covariance of the per-sample gradients g_i (the
finite-population variance of a sample mean). The second term is the sampling noise: it keeps
the mini-batch gradient norm away from zero even where ∇L vanishes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, grad, vmap


def gradient_noise(model: nn.Module, loss_fn: Callable, X: torch.Tensor, y: torch.Tensor,
                   batch_size: int, chunk_size: int = 512) -> dict[str, float]:
    """Full-batch gradient norm, per-sample gradient covariance trace, predicted E‖g_B‖².

    Per-sample gradients come from ``vmap(grad(...))`` in chunks, accumulated in float64
    (the model itself is evaluated in its own dtype, in eval mode; nothing is modified).

    Args:
        model: a model without buffers (e.g. an MLP); ``model(X)`` gives ``(N, K)``.
        loss_fn: batch-mean loss ``loss_fn(outputs (n, K), targets (n, ...)) -> scalar``.
        X: inputs ``(N, ...)``; y: targets ``(N, ...)``.
        batch_size: B, the mini-batch size the prediction is for (1 <= B <= N).
        chunk_size: per-sample gradients computed at once (memory ~ chunk_size x P).

    Returns:
        ``grad_norm_sq`` ‖∇L‖², ``trace_cov`` tr Σ, ``noise_sq`` (N − B)/(N − 1)·tr Σ/B,
        ``predicted_batch_norm_sq`` their sum (= E‖g_B‖²), and ``n``, ``batch_size``.

    Raises:
        ValueError: for a batch size outside 1..N or a model with buffers.
    """
    n = len(X)
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be between 1 and the {n} samples, got {batch_size}")
    if any(True for _ in model.buffers()):
        raise ValueError("gradient_noise needs a model without buffers (no BatchNorm)")
    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}

    def one_loss(p: dict, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return loss_fn(functional_call(model, p, (x.unsqueeze(0),)), t.unsqueeze(0))

    per_sample = vmap(grad(one_loss), in_dims=(None, 0, 0))
    total = {k: torch.zeros(v.shape, dtype=torch.float64, device=v.device)
             for k, v in params.items()}
    sum_sq = torch.zeros((), dtype=torch.float64)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, n, chunk_size):
            g = per_sample(params, X[start:start + chunk_size], y[start:start + chunk_size])
            for k, v in g.items():
                v = v.double()
                total[k] += v.sum(0)
                sum_sq += (v.reshape(len(v), -1) ** 2).sum().cpu()
    finally:
        model.train(was_training)
    mean_sq = sum(float((t / n).pow(2).sum()) for t in total.values())  # ‖∇L‖²
    trace_cov = max(float(sum_sq) / n - mean_sq, 0.0)  # E‖g_i‖² − ‖∇L‖²
    noise = (n - batch_size) / (n - 1) * trace_cov / batch_size if n > 1 else 0.0
    return {"grad_norm_sq": mean_sq, "trace_cov": trace_cov, "noise_sq": noise,
            "predicted_batch_norm_sq": mean_sq + noise, "n": n, "batch_size": batch_size}
