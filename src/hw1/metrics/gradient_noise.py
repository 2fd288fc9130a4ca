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
                   batch_size: int, chunk_size: int = 512,
                   method: str = "vmap") -> dict[str, float]:
    """Full-batch gradient norm, per-sample gradient covariance trace, predicted E‖g_B‖².

    With ``method="vmap"`` per-sample gradients come from ``vmap(grad(...))`` in chunks,
    accumulated in float64 (the model itself is evaluated in its own dtype, in eval mode;
    nothing is modified). With ``method="linear"`` (models whose every parameter belongs to an
    ``nn.Linear`` applied once to ``(n, in)`` inputs, e.g. :func:`hw1.models.mlp`) the same
    numbers come from one forward and backward pass per chunk: a linear layer's per-sample
    weight gradient is the outer product δ_i a_iᵀ of the gradient δ_i at its output and its
    input a_i, so ‖g_i‖² = Σ_layers ‖δ_i‖² (‖a_i‖² + 1) without forming g_i (Goodfellow 2015).

    Args:
        model: a model without buffers (e.g. an MLP); ``model(X)`` gives ``(N, K)``.
        loss_fn: batch-mean loss ``loss_fn(outputs (n, K), targets (n, ...)) -> scalar``.
        X: inputs ``(N, ...)``; y: targets ``(N, ...)``.
        batch_size: B, the mini-batch size the prediction is for (1 <= B <= N).
        chunk_size: per-sample gradients computed at once (memory ~ chunk_size x P for
            ``"vmap"``, ~ chunk_size x widths for ``"linear"``).
        method: ``"vmap"`` (any model without buffers) or ``"linear"`` (see above; exact, the
            same numbers up to float rounding, far faster for MLPs).

    Returns:
        ``grad_norm_sq`` ‖∇L‖², ``trace_cov`` tr Σ, ``noise_sq`` (N − B)/(N − 1)·tr Σ/B,
        ``predicted_batch_norm_sq`` their sum (= E‖g_B‖²), and ``n``, ``batch_size``.

    Raises:
        ValueError: for a batch size outside 1..N, a model with buffers, an unknown method,
            or, for ``"linear"``, a parameter outside an ``nn.Linear``.
    """
    n = len(X)
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be between 1 and the {n} samples, got {batch_size}")
    if any(True for _ in model.buffers()):
        raise ValueError("gradient_noise needs a model without buffers (no BatchNorm)")
    if method == "linear":
        mean_sq, second_moment = _linear_moments(model, loss_fn, X, y, chunk_size)
        return _result(mean_sq, second_moment, n, batch_size)
    if method != "vmap":
        raise ValueError(f"unknown method {method!r}; use 'vmap' or 'linear'")
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
    return _result(mean_sq, float(sum_sq) / n, n, batch_size)


def _result(mean_sq: float, second_moment: float, n: int, batch_size: int) -> dict[str, float]:
    """The returned dict from ‖∇L‖² and the mean squared per-sample norm E‖g_i‖²."""
    trace_cov = max(second_moment - mean_sq, 0.0)  # E‖g_i‖² − ‖∇L‖²
    noise = (n - batch_size) / (n - 1) * trace_cov / batch_size if n > 1 else 0.0
    return {"grad_norm_sq": mean_sq, "trace_cov": trace_cov, "noise_sq": noise,
            "predicted_batch_norm_sq": mean_sq + noise, "n": n, "batch_size": batch_size}


def _linear_moments(model: nn.Module, loss_fn: Callable, X: torch.Tensor, y: torch.Tensor,
                    chunk_size: int) -> tuple[float, float]:
    """‖∇L‖² and (1/N) Σ_i ‖g_i‖² of a model built of ``nn.Linear`` layers, by the outer-product
    identity of per-sample linear-layer gradients (one forward and backward pass per chunk).

    Args:
        model: its trainable parameters all weights and biases of ``nn.Linear`` modules, each
            module applied once per forward pass to a ``(n, in)`` input.
        loss_fn: batch-mean loss; n × ``loss_fn`` of a chunk of n is the sum of per-sample losses.
        X: inputs ``(N, ...)``; y: targets ``(N, ...)``.
        chunk_size: samples per pass.

    Returns:
        ``(‖∇L‖², mean_i ‖g_i‖²)`` in float64.

    Raises:
        ValueError: if a trainable parameter lies outside an ``nn.Linear`` or a linear layer
            sees an input that is not 2-D or is called more than once.
    """
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    inside = {id(p) for m in linears for p in m.parameters()}
    if any(p.requires_grad and id(p) not in inside for p in model.parameters()):
        raise ValueError("method='linear' needs every trainable parameter inside an nn.Linear")
    seen: list[tuple[nn.Linear, torch.Tensor, torch.Tensor]] = []

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if inputs[0].dim() != 2 or any(m is module for m, _, _ in seen):
            raise ValueError("method='linear' needs each nn.Linear applied once to (n, in) inputs")
        seen.append((module, inputs[0].detach(), output))

    params = [p for p in model.parameters() if p.requires_grad]
    total = [torch.zeros(p.shape, dtype=torch.float64) for p in params]
    sum_sq = torch.zeros((), dtype=torch.float64)
    n = len(X)
    handles = [m.register_forward_hook(hook) for m in linears]
    was_training = model.training
    model.eval()
    try:
        for start in range(0, n, chunk_size):
            seen.clear()
            xb, yb = X[start:start + chunk_size], y[start:start + chunk_size]
            loss = loss_fn(model(xb), yb) * len(xb)  # the sum of per-sample losses
            grads = torch.autograd.grad(loss, params + [out for _, _, out in seen])
            for t, g in zip(total, grads[:len(params)], strict=True):
                t += g.double().cpu()
            for (module, a, _), delta in zip(seen, grads[len(params):], strict=True):
                d_sq = delta.pow(2).sum(1).double()  # (n,) ‖δ_i‖², summed in the model's dtype
                a_sq = a.pow(2).sum(1).double() if module.weight.requires_grad else 0.0
                bias = 1.0 if module.bias is not None and module.bias.requires_grad else 0.0
                sum_sq += (d_sq * (a_sq + bias)).sum().cpu()
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    mean_sq = sum(float((t / n).pow(2).sum()) for t in total)
    return mean_sq, float(sum_sq) / n
