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


def _logit_jacobian_rows(model: nn.Module, xb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits' input-Jacobian of every sample in a batch, one class at a time.

    Row k of every sample's Jacobian at once is the gradient of Σ_i z_ik with respect to the
    batch (samples do not interact in eval mode), so K backward passes serve the whole batch.

    Returns:
        ``(p, Jz)``: softmax probabilities ``(B, K)`` and ``∂z/∂x`` ``(B, K, D)``.
    """
    xb = xb.detach().requires_grad_(True)
    z = model(xb)
    rows = [torch.autograd.grad(z[:, k].sum(), xb, retain_graph=k + 1 < z.shape[1])[0]
            .reshape(len(xb), -1) for k in range(z.shape[1])]
    return torch.softmax(z.detach(), dim=-1), torch.stack(rows, 1)


def _softmax_jacobian_norms(p: torch.Tensor, Jz: torch.Tensor) -> torch.Tensor:
    """‖(diag p − ppᵀ)·∂z/∂x‖_F per sample: ``p`` ``(B, K)``, ``Jz`` ``(B, K, D)`` -> ``(B,)``."""
    S = torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1)
    return torch.linalg.vector_norm(S @ Jz, dim=(1, 2))


def per_sample_sensitivity(model: nn.Module, X: torch.Tensor, y: torch.Tensor | None = None,
                           kind: str = "jacobian", chunk: int = 128) -> torch.Tensor:
    """Per-sample Frobenius norms ``(N,)`` (see the module docstring for ``kind``).

    Args:
        model: classifier mapping ``(N, ...)`` to logits ``(N, K)``.
        X: inputs ``(N, ...)``.
        y: int labels ``(N,)``, needed for ``kind="loss_gradient"``.
        kind: ``"jacobian"`` or ``"loss_gradient"``.
        chunk: samples per batch (bounds memory: ``chunk x K x D`` Jacobian entries).
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
                out.append(_softmax_jacobian_norms(*_logit_jacobian_rows(model, xb)))
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


def sensitivities(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                  chunk: int = 128) -> dict[str, float]:
    """Both readings from one pass: ``{"jacobian": ..., "loss_gradient": ...}`` (means).

    The per-sample loss gradient is ``(∂z/∂x)ᵀ(p − e_y)``, so the logit Jacobian rows that the
    Jacobian reading needs give it for free.
    """
    jac, lossg = [], []
    with eval_mode(model):
        for s in range(0, len(X), chunk):
            p, Jz = _logit_jacobian_rows(model, X[s:s + chunk])
            jac.append(_softmax_jacobian_norms(p, Jz))
            err = p - nn.functional.one_hot(y[s:s + chunk], p.shape[1]).to(p.dtype)
            lossg.append(torch.linalg.vector_norm((err.unsqueeze(1) @ Jz)[:, 0], dim=1))
    return {"jacobian": float(torch.cat(jac).mean()),
            "loss_gradient": float(torch.cat(lossg).mean())}
