"""Training a small regression network to convergence: Levenberg–Marquardt on the residuals.

First-order training of a 1-D fit (HW1-1) flattens slowly, and a fixed number of Adam steps
compares optimization speed, not what each architecture can fit. For a network of a few
hundred parameters the full Jacobian of the residuals is cheap, so a damped Gauss–Newton
method (Levenberg 1944; Marquardt 1963) can finish the job: it converges to a local minimum
of the mean squared error, where further steps no longer lower the loss.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from hw1.metrics._common import eval_mode


def fit_least_squares(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                      max_iter: int = 300, rel_tol: float = 1e-8, patience: int = 10,
                      damping: float = 1e-3, max_damping: float = 1e10) -> dict:
    """Minimize the mean squared error of ``model`` on ``(x, y)`` by Levenberg–Marquardt.

    Each trial step solves ``(JᵀJ + μ D) δ = −Jᵀr`` in float64, with ``r(θ) = f(x; θ) − y``
    ``(N·K,)``, ``J = ∂r/∂θ`` ``(N·K, P)`` and ``D = diag(JᵀJ) + 1e-12`` (Marquardt's
    scaling), by a Cholesky factorization of the scaled system, of size ``N·K`` (the dual
    form) where ``N·K < P``. For an MLP (``nn.Sequential`` of Linear layers, Flatten and
    elementwise activations) the Jacobian comes from one backward pass per output
    (:func:`mlp_jacobian`), otherwise from ``vmap(jacrev)``. A step that lowers the loss is
    kept and ``μ`` divided by 3; otherwise ``μ`` is multiplied by 4 and the step retried.
    Three endings:

    - ``"converged"`` (the plateau criterion): ``patience`` consecutive *kept* steps each
      lowered the loss by less than ``rel_tol`` relative (or the gradient is exactly zero);
      rejected steps do not count towards it;
    - ``"stalled"``: ``μ`` rose above ``max_damping`` without a kept step, i.e. even very
      short steps do not lower the loss (a minimum at float64 resolution, or a ReLU kink the
      local linear model cannot see); the gradient norm returned tells which;
    - ``"max_iter"``: the step budget ran out.

    Works on a float64 copy; the caller's model is not changed.

    Args:
        model: a regression network (P parameters, no BatchNorm statistics to update).
        x: inputs ``(N, ...)``.
        y: targets ``(N, K)`` (or ``(N,)`` for one output), floating point.
        max_iter: most trial steps (>= 1).
        rel_tol: relative loss decrease below which a kept step counts as no progress (> 0).
        patience: that many such steps in a row end the fit (>= 1).
        damping: initial ``μ`` (> 0).
        max_damping: ``μ`` above which the fit counts as stalled.

    Returns:
        dict with ``model`` (the float64 copy, eval mode), ``params`` ``(P,)``, ``loss`` and
        ``start_loss`` (MSE, float), ``grad_norm`` (of the MSE at the end), ``converged``
        (bool, the plateau criterion), ``reason`` (``"converged"``, ``"stalled"`` or
        ``"max_iter"``),
        ``iterations``, ``accepted`` and ``loss_trace`` (loss after each kept step).

    Raises:
        ValueError: for invalid settings or targets that are not floating point.
    """
    if max_iter < 1 or patience < 1:
        raise ValueError(f"max_iter and patience must be >= 1, got {max_iter} and {patience}")
    if not rel_tol > 0 or not damping > 0:
        raise ValueError(f"rel_tol and damping must be positive, got {rel_tol} and {damping}")
    if not torch.is_floating_point(y):
        raise ValueError(f"fit_least_squares fits real-valued targets; y has dtype {y.dtype}. "
                         "For class labels use hw1.training.train.")
    work = copy.deepcopy(model).to(torch.float64).eval()
    with eval_mode(work):  # checks for untrained BatchNorm statistics
        pass
    theta = torch.cat([p.detach().reshape(-1) for p in work.parameters()])
    x64 = x.to(torch.float64)
    y64 = y.to(torch.float64).reshape(len(x), -1)
    single = _single_sample_output(work)
    # the residuals' Jacobian is the per-sample Jacobians stacked: (N·K, P) memory, where
    # jacrev of all N outputs at once would hold N copies of every activation
    per_sample_jac = vmap(jacrev(single), in_dims=(None, 0))
    batched = vmap(single, in_dims=(None, 0))
    mlp_layers = _mlp_layers(work)

    def residual(t: torch.Tensor) -> torch.Tensor:
        return (batched(t, x64) - y64).reshape(-1)

    def jac(t: torch.Tensor) -> torch.Tensor:
        if mlp_layers is not None:
            return mlp_jacobian(mlp_layers, t, x64)
        return per_sample_jac(t, x64).reshape(-1, len(t))

    n = y64.numel()

    def mse(t: torch.Tensor) -> float:
        return float(residual(t).square().mean())

    loss = start = mse(theta)
    mu, iterations, accepted, quiet = damping, 0, 0, 0
    trace: list[float] = []
    reason = "max_iter"
    need_jacobian = True
    while iterations < max_iter:
        if need_jacobian:
            r = residual(theta)
            J = jac(theta)
            Jtr = J.T @ r
            diag = J.square().sum(0) + 1e-12  # diag(JᵀJ)
            scale = diag.rsqrt()
            Js = J * scale  # J D^{-1/2}
            # fewer residuals than parameters: solve the (N·K)-sized dual system instead,
            # (JᵀJ + μD)⁻¹Jᵀr = D^{-1/2} Jsᵀ (Js Jsᵀ + μI)⁻¹ r (push-through identity)
            dual = len(r) < len(theta)
            gram = Js @ Js.T if dual else Js.T @ Js
            eye = torch.eye(len(gram), dtype=gram.dtype)
            need_jacobian = False
            if not Jtr.abs().max() > 0:
                reason = "converged"
                break
        iterations += 1
        factor, info = torch.linalg.cholesky_ex(gram + mu * eye)
        if info == 0:
            if dual:
                delta = -scale * (Js.T @ torch.cholesky_solve(r[:, None], factor)[:, 0])
            else:
                delta = -scale * torch.cholesky_solve((scale * Jtr)[:, None], factor)[:, 0]
        else:  # not numerically positive definite: a general solve of the primal system
            delta = torch.linalg.solve(J.T @ J + mu * torch.diag(diag), -Jtr)
        trial = theta + delta
        trial_loss = mse(trial)
        if trial_loss < loss:  # False for NaN
            quiet = quiet + 1 if loss - trial_loss < rel_tol * loss else 0
            theta, loss = trial, trial_loss
            trace.append(loss)
            accepted += 1
            mu = max(mu / 3, 1e-15)
            need_jacobian = True
            if quiet >= patience:
                reason = "converged"
                break
        else:
            mu *= 4
            if mu > max_damping:
                reason = "stalled"
                break
    grad_norm = float((2.0 / n) * (jac(theta).T @ residual(theta)).norm())
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(theta, work.parameters())
    return {"model": work.eval(), "params": theta.detach(), "loss": loss, "start_loss": start,
            "grad_norm": grad_norm, "converged": reason == "converged", "reason": reason,
            "iterations": iterations, "accepted": accepted, "loss_trace": trace}


def _single_sample_output(model: nn.Module):
    """``(theta (P,), x (...)) -> outputs (K,)`` of ``model`` for one input."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]

    def single(theta: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        params = {n: t.view(s) for n, t, s in
                  zip(names, torch.split(theta, sizes), shapes, strict=True)}
        return functional_call(model, params, (xi.unsqueeze(0),)).reshape(-1)

    return single


#: per-sample layers without parameters that :func:`mlp_jacobian` can differentiate through
#: (elementwise activations; ``nn.Flatten`` from dimension 1)
_ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU,
                nn.Softplus, nn.Identity, nn.Flatten)


def _mlp_layers(model: nn.Module) -> list[nn.Module] | None:
    """The layers of ``model`` if it is an ``nn.Sequential`` of ``nn.Linear`` layers (with
    bias), ``nn.Flatten(1)`` and elementwise activations whose parameters are exactly the
    Linear layers' weights and biases in order; else None."""
    if not isinstance(model, nn.Sequential):
        return None
    layers = list(model)
    if not layers or not all(isinstance(m, (nn.Linear, *_ELEMENTWISE)) for m in layers):
        return None
    if any(isinstance(m, nn.Flatten) and m.start_dim != 1 for m in layers):
        return None
    linear = [m for m in layers if isinstance(m, nn.Linear)]
    if any(m.bias is None for m in linear) or any(
            next(m.parameters(), None) is not None for m in layers
            if not isinstance(m, nn.Linear)):
        return None
    return layers


def mlp_jacobian(layers: list[nn.Module], theta: torch.Tensor, x: torch.Tensor
                 ) -> torch.Tensor:
    """Jacobian of all outputs of an MLP with respect to its flat parameters, per sample.

    For a Linear layer ``z = W a + b`` the output's derivative with respect to ``W`` at
    sample ``i`` is ``g_i aᵢᵀ`` with ``g_i = ∂out_i/∂z_i``; since sample ``i``'s output
    depends only on sample ``i``'s input, ``g`` for all samples comes from one backward pass
    of the *summed* output (one per output unit). Cost: O(N·K·P), where ``vmap(jacrev)``
    builds each sample's Jacobian separately.

    Args:
        layers: the MLP's layers (``nn.Linear``, ``nn.Flatten(1)`` and elementwise
            activations, in order;
            parameter order weight, bias per Linear as in ``Sequential.parameters()``).
        theta: flat parameters ``(P,)``.
        x: inputs ``(N, ...)``.

    Returns:
        ``J`` ``(N·K, P)``, row ``i·K + k`` = ∂out[i, k]/∂θ (the layout of
        ``vmap(jacrev(f))(θ, x).reshape(-1, P)``).
    """
    params, offset = [], 0
    for m in layers:
        if isinstance(m, nn.Linear):
            nw, nb = m.weight.numel(), m.bias.numel()
            params.append((theta[offset:offset + nw].view_as(m.weight),
                           theta[offset + nw:offset + nw + nb]))
            offset += nw + nb
    if offset != len(theta):
        raise ValueError(f"theta has {len(theta)} entries, the MLP {offset} parameters")
    with torch.enable_grad():
        a, inputs, pre = x.detach(), [], []
        it = iter(params)
        for m in layers:
            if isinstance(m, nn.Linear):
                w, b = next(it)
                inputs.append(a)
                a = torch.nn.functional.linear(a, w.detach(), b.detach())
                if not a.requires_grad:  # the first layer: make it a leaf to differentiate
                    a.requires_grad_(True)
                pre.append(a)
            else:
                a = m(a)
        out = a  # (N, K)
        n, k = out.shape
        blocks = torch.empty(n, k, len(theta), dtype=theta.dtype, device=theta.device)
        for j in range(k):
            grads = torch.autograd.grad(out[:, j].sum(), pre, retain_graph=j + 1 < k)
            cols = []
            for g, a_in in zip(grads, inputs, strict=True):
                cols.append((g[:, :, None] * a_in.detach()[:, None, :]).reshape(n, -1))
                cols.append(g)
            blocks[:, j] = torch.cat(cols, dim=1)
    return blocks.reshape(n * k, len(theta))
