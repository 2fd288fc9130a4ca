"""Gradient norm, the exact Hessian, the minimal ratio, the top Hessian eigenvalue and the
Hutchinson estimate of the Hessian trace.

All take ``loss_fn(output, target) -> scalar`` and the data ``X, y`` the loss is over, put
the model in eval mode and restore its mode after. Parameters are flattened in
``model.parameters()`` order.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import grad, jacrev, vjp, vmap

from hw1.metrics._common import LossFn, eval_mode, flat_loss

#: Largest Hessian :func:`hessian` builds (float64 entries, bytes). Above this it refuses and
#: points to :func:`top_hessian_eigenvalue`.
HESSIAN_MEMORY_LIMIT = 2 * 1024**3


def gradient_norm(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor) -> float:
    """Global L2 norm of dL/dθ over all parameters, L = loss_fn(model(X), y).

    Args:
        model: the network.
        loss_fn: returns a scalar loss.
        X: inputs ``(N, ...)``; y: targets ``(N, ...)``.
    """
    with eval_mode(model):
        params = [p for p in model.parameters() if p.requires_grad]
        loss = loss_fn(model(X), y)
        grads = torch.autograd.grad(loss, params)
    return math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))


def _check_hessian_size(n_params: int) -> None:
    need = n_params * n_params * 8
    if need > HESSIAN_MEMORY_LIMIT:
        raise MemoryError(
            f"the full Hessian of this model is {n_params} x {n_params} "
            f"({need / 1024**3:.1f} GiB in float64), beyond the "
            f"{HESSIAN_MEMORY_LIMIT / 1024**3:.0f} GiB limit; use "
            "hw1.metrics.top_hessian_eigenvalue (Hessian-vector products) instead.")


def hessian(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
            chunk_size: int = 32) -> torch.Tensor:
    """The full P x P Hessian of L over all parameters, in float64, cross-layer blocks included.

    Computed as the Jacobian of the gradient (reverse over reverse, which supports every
    op that double backward does), ``chunk_size`` rows at a time (vmapped), in float64.

    Args:
        model: the network (P parameters).
        loss_fn, X, y: L = loss_fn(model(X), y).
        chunk_size: columns per vmapped batch (memory vs speed).

    Returns:
        ``(P, P)`` float64 symmetric tensor.

    Raises:
        MemoryError: when P x P float64 entries exceed :data:`HESSIAN_MEMORY_LIMIT`.
    """
    n_params = sum(p.numel() for p in model.parameters())
    _check_hessian_size(n_params)
    with eval_mode(model):
        f, theta = flat_loss(model, loss_fn, X, y, dtype=torch.float64)
        H = jacrev(grad(f), chunk_size=chunk_size)(theta)
    return (H + H.T) / 2  # symmetric up to rounding; make it exactly so


def hessian_trace(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                  samples: int = 100, generator: torch.Generator | None = None,
                  chunk_size: int = 32) -> float:
    """Hutchinson estimate of tr(H), H the Hessian of L over the trainable parameters.

    Hutchinson (1989); Avron & Toledo (2011). Draws ``samples`` Rademacher probes
    ``v`` (independent ±1 entries, so ``E[v vᵀ] = I``) and returns the mean of ``vᵀHv``, an
    unbiased estimate of ``tr(H)`` that never forms H. Hessian-vector products are reverse
    over reverse (the vector-Jacobian product of the gradient, ``Hv = Hᵀv`` as H is
    symmetric; same op support as :func:`hessian`), ``chunk_size`` probes per vmapped
    batch, on a float64 copy of the model and data: the caller's model is not modified
    (only its train/eval mode is switched for the call and restored).

    Variance: for Rademacher probes one sample has
    ``Var[vᵀHv] = 2 (‖H‖_F² − Σ_i H_ii²)`` (twice the squared Frobenius norm of the
    off-diagonal part), so the estimate has variance ``2 (‖H‖_F² − Σ_i H_ii²) / samples``
    and standard error ``sqrt`` of that. In particular it is exact, for any ``samples``,
    when H is diagonal. (Gaussian probes would give the larger ``2 ‖H‖_F² / samples``.)

    Args:
        model: the network. Only parameters with ``requires_grad`` count (P of them); when
            all are trainable the result estimates ``torch.trace(hessian(model, ...))``.
        loss_fn: ``loss_fn(output, target)`` returning a scalar (the mean loss).
        X: inputs ``(N, ...)``; y: targets ``(N, ...)``; L = loss_fn(model(X), y).
        samples: number of Rademacher probes (>= 1).
        generator: drives the probes (drawn on the generator's device, then moved to the
            model's); the same generator state gives the same estimate. ``None`` uses
            torch's global RNG.
        chunk_size: probes per vmapped Hessian-vector-product batch (memory vs speed).

    Returns:
        The estimate of tr(H) as a Python float.

    Raises:
        ValueError: if ``samples < 1`` or ``chunk_size < 1``, or ``model`` has no trainable
            parameters.
    """
    if isinstance(samples, bool) or int(samples) != samples or samples < 1:
        raise ValueError(f"samples must be an integer >= 1, got {samples!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
    trainable = torch.cat([torch.full((p.numel(),), p.requires_grad, dtype=torch.bool)
                           for p in model.parameters()] or [torch.zeros(0, dtype=torch.bool)])
    if not bool(trainable.any()):
        raise ValueError("model has no trainable parameters (none with requires_grad and "
                         "at least one element), so the Hessian trace is undefined.")
    with eval_mode(model):
        f, theta = flat_loss(model, loss_fn, X, y, dtype=torch.float64)
        probe_device = generator.device if generator is not None else theta.device
        probes = torch.randint(0, 2, (int(samples), theta.numel()), generator=generator,
                               device=probe_device, dtype=torch.float64).to(theta.device) * 2 - 1
        probes = probes * trainable.to(device=theta.device, dtype=torch.float64)  # frozen: 0
        _, hvp = vjp(grad(f), theta)
        Hv = vmap(lambda v: hvp(v)[0], chunk_size=chunk_size)(probes)  # (samples, P)
    return float((probes * Hv).sum(dim=1).mean())


def default_tolerance(eigenvalues: torch.Tensor) -> float:
    """Numerical-zero threshold for a Hessian spectrum: ``P * eps(float64) * max|λ|``.

    Eigenvalues of a float64 symmetric solver are accurate to about ``eps * ||H||`` each
    (and the Hessian entries themselves carry rounding of that order), so anything within
    ``P * eps * max|λ|`` of zero cannot be told apart from zero; this is the rule numpy's
    ``matrix_rank`` uses. Such eigenvalues count as *not* positive.
    """
    scale = float(eigenvalues.abs().max()) if len(eigenvalues) else 0.0
    return len(eigenvalues) * torch.finfo(torch.float64).eps * scale


def hessian_spectrum(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                     tol: float | None = None) -> dict[str, float | int | torch.Tensor]:
    """Eigenvalues of the exact Hessian and their counts by sign.

    Returns:
        dict with ``eigenvalues`` ``(P,)`` ascending, ``tol``, ``positive`` (> tol),
        ``near_zero`` (|λ| <= tol), ``negative`` (< -tol) and ``minimal_ratio``
        (positive / P).
    """
    eig = torch.linalg.eigvalsh(hessian(model, loss_fn, X, y))
    tol = default_tolerance(eig) if tol is None else float(tol)
    positive = int((eig > tol).sum())
    negative = int((eig < -tol).sum())
    return {"eigenvalues": eig, "tol": tol, "positive": positive, "negative": negative,
            "near_zero": len(eig) - positive - negative, "minimal_ratio": positive / len(eig)}


def minimal_ratio(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                  tol: float | None = None) -> float:
    """Fraction of the exact Hessian's eigenvalues greater than ``tol``.

    Uses the symmetric solver ``torch.linalg.eigvalsh`` on the float64 Hessian. The default
    ``tol`` is :func:`default_tolerance` (``P * eps * max|λ|``): eigenvalues within the
    solver's rounding of zero are not counted as positive. :func:`hessian_spectrum` reports
    how many were near zero.
    """
    return float(hessian_spectrum(model, loss_fn, X, y, tol)["minimal_ratio"])


def _largest_ritz(alpha: torch.Tensor, beta: torch.Tensor) -> float:
    """Largest eigenvalue of the symmetric tridiagonal matrix with diagonal ``alpha`` ``(m,)``
    and off-diagonal ``beta`` ``(m - 1,)``."""
    T = torch.diag(alpha) + torch.diag(beta, 1) + torch.diag(beta, -1)
    return float(torch.linalg.eigvalsh(T).max())


def top_hessian_eigenvalue(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                           iterations: int = 64, seed: int = 0,
                           tol: float | None = None) -> float:
    """Largest algebraic eigenvalue of the Hessian, by Lanczos on Hessian-vector products.

    Never forms the Hessian, so it serves models far too large for :func:`hessian`. Runs
    ``min(iterations, P)`` Lanczos steps with full reorthogonalization (double-backward
    products in the model's dtype) and returns the largest Ritz value, which converges to
    the largest algebraic (not largest-magnitude) eigenvalue.

    Args:
        model, loss_fn, X, y: L = loss_fn(model(X), y).
        iterations: Lanczos steps (Krylov dimension); with ``tol``, the most.
        seed: seeds the start vector.
        tol: stop early once the largest Ritz value changes by at most ``tol`` times its
            magnitude from one Lanczos step to the next (``None``: run all ``iterations``).
    """
    if tol is not None and not tol > 0:
        raise ValueError(f"tol must be positive or None, got {tol!r}")
    with eval_mode(model):
        params = [p for p in model.parameters() if p.requires_grad]
        loss = loss_fn(model(X), y)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        flat_g = torch.cat([g.reshape(-1) for g in grads])
        n = flat_g.numel()
        k = min(iterations, n)

        def hvp(v: torch.Tensor) -> torch.Tensor:
            hv = torch.autograd.grad(flat_g, params, grad_outputs=v.to(flat_g.dtype),
                                     retain_graph=True)
            return torch.cat([h.reshape(-1) for h in hv]).double()

        gen = torch.Generator().manual_seed(seed)
        q = torch.randn(n, generator=gen, dtype=torch.float64)
        Q = torch.zeros(k, n, dtype=torch.float64)
        alpha = torch.zeros(k, dtype=torch.float64)
        beta = torch.zeros(k, dtype=torch.float64)
        Q[0] = q / q.norm()
        m = k
        previous = math.inf
        for j in range(k):
            w = hvp(Q[j])
            alpha[j] = w @ Q[j]
            if tol is not None:  # the largest Ritz value of the (j + 1)-step tridiagonal
                top = _largest_ritz(alpha[: j + 1], beta[:j])
                if abs(top - previous) <= tol * abs(top):
                    m = j + 1
                    break
                previous = top
            w = w - Q[: j + 1].T @ (Q[: j + 1] @ w)  # full reorthogonalization (twice is
            w = w - Q[: j + 1].T @ (Q[: j + 1] @ w)  # enough in floating point)
            if j + 1 < k:
                beta[j] = w.norm()
                if beta[j] <= 1e-10 * max(1.0, float(alpha[: j + 1].abs().max())):
                    m = j + 1  # invariant subspace found: the Ritz values are exact
                    break
                Q[j + 1] = w / beta[j]
    T = torch.diag(alpha[:m]) + torch.diag(beta[: m - 1], 1) + torch.diag(beta[: m - 1], -1)
    return float(torch.linalg.eigvalsh(T).max())


def gauss_newton_split(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                       chunk_size: int | None = None) -> dict[str, torch.Tensor]:
    """The Hessian of the mean squared error split into its Gauss–Newton and residual parts.

    For ``L(θ) = (1/M) Σ_j (f_j(θ) − y_j)²`` over the ``M = N·K`` output entries ``f_j``
    (``torch.nn.functional.mse_loss`` with its default mean), with residuals
    ``r_j = f_j − y_j`` and the Jacobian ``J = ∂f/∂θ`` ``(M, P)``::

        H = G + R,   G = (2/M) JᵀJ,   R = (2/M) Σ_j r_j ∇²f_j(θ).

    ``G`` (the Gauss–Newton matrix) is positive semi-definite with ``rank G = rank J``; every
    negative eigenvalue of ``H`` needs ``R``, which vanishes where the fit is exact
    (Schraudolph 2002; Sagun et al. 2017). ``R`` is computed on its own, as the Hessian of
    ``θ ↦ (2/M) Σ_j r_j f_j(θ)`` with ``r`` held fixed, not as ``H − G``, so ``G + R`` can be
    checked against :func:`hessian`.

    Args:
        model: the network (P parameters), mapping ``X`` ``(N, ...)`` to ``(N, K)`` or
            ``(N,)``; evaluated in eval mode, in float64, on a copy.
        X: inputs ``(N, ...)``; y: targets of the model's output shape.
        chunk_size: Jacobian/Hessian columns per vmapped batch; None: all at once (fastest
            for the small networks this is meant for).

    Returns:
        dict of float64 tensors: ``jacobian`` ``(M, P)``, ``residual`` ``(M,)``,
        ``gauss_newton`` ``(P, P)``, ``residual_part`` ``(P, P)`` (both exactly symmetric),
        and ``gradient`` ``(P,)`` = ``(2/M) Jᵀ r``.

    Raises:
        ValueError: if the model's output and ``y`` differ in shape.
        MemoryError: when a P x P float64 matrix would exceed :data:`HESSIAN_MEMORY_LIMIT`.
    """
    n_params = sum(p.numel() for p in model.parameters())
    _check_hessian_size(n_params)
    with eval_mode(model):
        out_fn, theta = flat_loss(model, lambda out, target: out.reshape(-1), X, y,
                                  dtype=torch.float64)
        out = out_fn(theta).detach()
        target = y.to(torch.float64).reshape(-1)
        if out.shape != target.shape:
            raise ValueError(f"gauss_newton_split: the model's output has {out.numel()} "
                             f"entries but y has {target.numel()}; they must match (MSE).")
        residual = out - target
        M = residual.numel()
        J = jacrev(out_fn, chunk_size=chunk_size)(theta)  # (M, P)

        def weighted(flat: torch.Tensor) -> torch.Tensor:
            return (2.0 / M) * (residual * out_fn(flat)).sum()

        R = jacrev(grad(weighted), chunk_size=chunk_size)(theta)
    G = (2.0 / M) * J.T @ J
    return {"jacobian": J, "residual": residual, "gauss_newton": (G + G.T) / 2,
            "residual_part": (R + R.T) / 2, "gradient": (2.0 / M) * J.T @ residual}
