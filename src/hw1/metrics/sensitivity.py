"""Input sensitivity of a classifier (HW1-3 "flatness part 2").

Two readings, both the mean over samples of a per-sample Frobenius norm, so neither depends
on how the samples are batched:

* ``kind="jacobian"``: ‖∂softmax(f(x))/∂x‖_F, the Jacobian of the class probabilities with
  respect to the input (Novak et al. 2018, "Sensitivity and Generalization in Neural Networks").
* ``kind="loss_gradient"``: ‖∂CE(f(x), y)/∂x‖_F, the gradient of that sample's own loss with
  respect to its input (the reading several course transcriptions give). Taking the gradient
  of a *batch-mean* loss instead would divide every sample's gradient by the batch size.
"""

from __future__ import annotations

import torch
from torch import nn

from hw1.metrics._common import eval_mode

KINDS = ("jacobian", "loss_gradient")


def per_sample_sensitivity(model: nn.Module, X: torch.Tensor, y: torch.Tensor | None = None,
                           kind: str = "jacobian", chunk: int = 256) -> torch.Tensor:
    """Per-sample Frobenius norms ``(N,)`` (see the module docstring for ``kind``).

    Args:
        model: classifier mapping ``(N, ...)`` to logits ``(N, K)``.
        X: inputs ``(N, ...)``.
        y: int labels ``(N,)``, needed for ``kind="loss_gradient"``.
        kind: ``"jacobian"`` or ``"loss_gradient"``.
        chunk: samples per batch (bounds memory).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown sensitivity kind {kind!r}; valid: {', '.join(KINDS)}")
    if kind == "loss_gradient" and y is None:
        raise ValueError("kind='loss_gradient' needs the labels y (the loss is per sample)")
    out = []
    with eval_mode(model):
        for s in range(0, len(X), chunk):
            xb = X[s:s + chunk]
            if kind == "jacobian":
                # row k of every sample's Jacobian at once: the gradient of Σ_i p_ik with
                # respect to the batch (samples do not interact in eval mode)
                xb = xb.detach().requires_grad_(True)
                probs = torch.softmax(model(xb), dim=-1)  # (B, K)
                squares = torch.zeros(len(xb), dtype=xb.dtype)
                for k in range(probs.shape[1]):
                    (g,) = torch.autograd.grad(probs[:, k].sum(), xb,
                                               retain_graph=k + 1 < probs.shape[1])
                    squares += g.reshape(len(xb), -1).pow(2).sum(1)
                out.append(squares.sqrt())
            else:
                xb = xb.detach().requires_grad_(True)
                # the sum of per-sample losses: sample i's gradient is its own loss's gradient
                loss = nn.functional.cross_entropy(model(xb), y[s:s + chunk], reduction="sum")
                (g,) = torch.autograd.grad(loss, xb)
                out.append(g.reshape(len(xb), -1).norm(dim=1))
    return torch.cat(out)


def sensitivity(model: nn.Module, X: torch.Tensor, y: torch.Tensor | None = None,
                kind: str = "jacobian") -> float:
    """Mean over samples of the per-sample sensitivity (see :func:`per_sample_sensitivity`)."""
    return float(per_sample_sensitivity(model, X, y, kind).mean())
