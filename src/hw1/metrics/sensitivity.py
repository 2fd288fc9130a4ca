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
from torch.func import jacrev, vmap

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
        chunk: samples per vmapped batch (bounds memory: ``chunk x K x D`` Jacobian entries).
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
                probs = lambda x: torch.softmax(model(x.unsqueeze(0)), dim=-1)[0]  # noqa: E731
                J = vmap(jacrev(probs))(xb)  # (B, K, *input)
                out.append(J.reshape(len(xb), -1).norm(dim=1).detach())
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
