"""Optimization metrics against exact answers."""

import pytest
import torch
from exact import FreeVector, Product, quadratic_loss, symmetric_with_eigenvalues
from torch import nn

from hw1.metrics import (
    gradient_norm,
    hessian,
    hessian_spectrum,
    minimal_ratio,
    top_hessian_eigenvalue,
)
from hw1.models import mlp

torch.set_default_dtype(torch.float32)
mse = nn.functional.mse_loss



def _linear_regression(n=50, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, 1, generator=g, dtype=torch.float64)
    model = nn.Linear(d, 1).double()
    Xa = torch.cat([X, torch.ones(n, 1, dtype=torch.float64)], 1)  # weight then bias
    return model, X, y, Xa


def test_linear_regression_gradient_norm_and_hessian_closed_form():
    model, X, y, Xa = _linear_regression()
    theta = torch.cat([model.weight.detach().flatten(), model.bias.detach()])
    grad = 2 * Xa.T @ (Xa @ theta[:, None] - y) / len(X)
    assert gradient_norm(model, mse, X, y) == pytest.approx(grad.norm().item(), rel=1e-10)
    torch.testing.assert_close(hessian(model, mse, X, y), 2 * Xa.T @ Xa / len(X))
    assert minimal_ratio(model, mse, X, y) == 1.0


def test_saddle_of_ab_minus_one_squared():
    model = Product(0.0, 0.0)
    x = torch.ones(1, dtype=torch.float64)
    H = hessian(model, mse, x, x)
    torch.testing.assert_close(H, torch.tensor([[0.0, -2.0], [-2.0, 0.0]], dtype=torch.float64))
    spectrum = hessian_spectrum(model, mse, x, x)
    torch.testing.assert_close(spectrum["eigenvalues"],
                               torch.tensor([-2.0, 2.0], dtype=torch.float64))
    assert minimal_ratio(model, mse, x, x) == 0.5
    assert gradient_norm(model, mse, x, x) == 0.0


def test_ab_minus_one_squared_on_its_minimum_valley():
    # at a = b = 1: H = [[2, 2], [2, 2]], eigenvalues 0 and 4 -> one positive, one zero
    model = Product(1.0, 1.0)
    x = torch.ones(1, dtype=torch.float64)
    spectrum = hessian_spectrum(model, mse, x, x)
    assert spectrum["positive"] == 1 and spectrum["near_zero"] == 1
    assert spectrum["minimal_ratio"] == 0.5


@pytest.mark.parametrize("sign, ratio", [(1.0, 1.0), (-1.0, 0.0)])
def test_quadratic_definite_ratios(sign, ratio):
    A = sign * symmetric_with_eigenvalues([0.5, 1.0, 3.0, 7.0])
    loss = quadratic_loss(A)
    model = FreeVector([0.3, -1.0, 2.0, 0.1])
    torch.testing.assert_close(hessian(model, loss, torch.zeros(1), torch.zeros(1)), A)
    assert minimal_ratio(model, loss, torch.zeros(1), torch.zeros(1)) == ratio


def test_hessian_of_mlp_matches_finite_differences_of_the_gradient():
    torch.manual_seed(0)
    model = mlp(2, [3, 3], 1).double()
    X = torch.randn(20, 2, dtype=torch.float64)
    y = torch.randn(20, 1, dtype=torch.float64)
    params = list(model.parameters())
    H = hessian(model, mse, X, y)

    def flat_grad():
        g = torch.autograd.grad(mse(model(X), y), params)
        return torch.cat([t.reshape(-1) for t in g])

    h = 1e-5
    cols = []
    flat = torch.nn.utils.parameters_to_vector(params).detach()
    for i in range(len(flat)):
        for sgn, store in ((1, "plus"), (-1, "minus")):
            shifted = flat.clone()
            shifted[i] += sgn * h
            torch.nn.utils.vector_to_parameters(shifted, params)
            if store == "plus":
                g_plus = flat_grad()
            else:
                g_minus = flat_grad()
        cols.append((g_plus - g_minus) / (2 * h))
    torch.nn.utils.vector_to_parameters(flat, params)
    torch.testing.assert_close(H, torch.stack(cols, 1), rtol=1e-6, atol=1e-7)


def test_top_eigenvalue_matches_eigvalsh_on_a_small_net():
    torch.manual_seed(1)
    model = mlp(3, [6, 5], 2).double()
    X = torch.randn(40, 3, dtype=torch.float64)
    y = torch.randint(0, 2, (40,))
    ce = nn.functional.cross_entropy
    exact = torch.linalg.eigvalsh(hessian(model, ce, X, y)).max().item()
    assert top_hessian_eigenvalue(model, ce, X, y, iterations=80) == pytest.approx(exact,
                                                                                   rel=1e-8)


def test_top_eigenvalue_is_algebraic_not_largest_magnitude():
    A = symmetric_with_eigenvalues([-9.0, -4.0, 0.5, 2.0, 1.0])
    loss = quadratic_loss(A)
    model = FreeVector([1.0, 0.0, -1.0, 0.5, 0.2])
    top = top_hessian_eigenvalue(model, loss, torch.zeros(1), torch.zeros(1))
    assert top == pytest.approx(2.0, rel=1e-10)


def test_metrics_use_eval_mode_and_restore_it():
    class ModeSpy(nn.Linear):
        seen = []

        def forward(self, x):
            self.seen.append(self.training)
            return super().forward(x)

    model = ModeSpy(2, 1).double().train()
    X = torch.randn(5, 2, dtype=torch.float64)
    y = torch.randn(5, 1, dtype=torch.float64)
    for metric in (gradient_norm, hessian, minimal_ratio, top_hessian_eigenvalue):
        ModeSpy.seen.clear()
        metric(model, mse, X, y)
        assert ModeSpy.seen and not any(ModeSpy.seen)
        assert model.training


def test_untrained_batchnorm_is_refused():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1))
    X, y = torch.randn(8, 2), torch.randn(8, 1)
    with pytest.raises(ValueError, match=r"BatchNorm layer '1' has never seen a training batch"):
        gradient_norm(model, mse, X, y)


def test_hessian_too_large_says_size_and_points_to_lanczos():
    model = nn.Linear(20_000, 1)
    with pytest.raises(MemoryError, match=r"20001 x 20001 \(3\.0 GiB.*top_hessian_eigenvalue"):
        hessian(model, mse, torch.zeros(1, 20_000), torch.zeros(1, 1))


def test_top_eigenvalue_with_a_tolerance_stops_early_and_stays_within_it(monkeypatch):
    torch.manual_seed(1)
    model = mlp(3, [6, 5], 2).double()
    X = torch.randn(40, 3, dtype=torch.float64)
    y = torch.randint(0, 2, (40,))
    ce = nn.functional.cross_entropy
    exact = torch.linalg.eigvalsh(hessian(model, ce, X, y)).max().item()
    import hw1.metrics.curvature as curvature

    calls = []
    real = curvature._largest_ritz
    monkeypatch.setattr(curvature, "_largest_ritz", lambda a, b: calls.append(1) or real(a, b))
    top = top_hessian_eigenvalue(model, ce, X, y, iterations=80, tol=1e-9)
    assert top == pytest.approx(exact, rel=1e-6)
    assert len(calls) < sum(p.numel() for p in model.parameters())  # stopped early
    with pytest.raises(ValueError, match="tol must be positive"):
        top_hessian_eigenvalue(model, ce, X, y, tol=0.0)
