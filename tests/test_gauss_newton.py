"""The Gauss–Newton split of the MSE Hessian and the Weyl bound, against exact answers."""

import numpy as np
import pytest
import torch
from exact import Product, symmetric_with_eigenvalues
from torch import nn

from hw1.experiments.minimal_ratio.run import distinct_patterns, measure_point, spectral_distance
from hw1.metrics import gauss_newton_split, hessian, linear_regions
from hw1.models import mlp

mse = nn.functional.mse_loss



def test_linear_model_has_no_residual_part_and_the_closed_form_gauss_newton_matrix():
    g = torch.Generator().manual_seed(0)
    n, d = 40, 3
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, 1, generator=g, dtype=torch.float64)
    model = nn.Linear(d, 1).double()
    Xa = torch.cat([X, torch.ones(n, 1, dtype=torch.float64)], 1)  # weight then bias
    s = gauss_newton_split(model, X, y)
    torch.testing.assert_close(s["gauss_newton"], 2 * Xa.T @ Xa / n)  # H = (2/N) XᵀX
    torch.testing.assert_close(s["residual_part"], torch.zeros(d + 1, d + 1, dtype=torch.float64))
    torch.testing.assert_close(s["jacobian"], Xa)
    theta = torch.cat([model.weight.detach().flatten(), model.bias.detach()])
    torch.testing.assert_close(s["gradient"], 2 * Xa.T @ (Xa @ theta - y[:, 0]) / n)


def test_product_model_split_in_closed_form():
    # f = ab, r = ab − 1: J = (b, a), G = 2 JᵀJ, R = 2 r [[0, 1], [1, 0]]
    a, b = 1.5, -0.5
    s = gauss_newton_split(Product(a, b), torch.ones(1, dtype=torch.float64),
                           torch.ones(1, dtype=torch.float64))
    r = a * b - 1
    G = 2 * torch.tensor([[b * b, a * b], [a * b, a * a]], dtype=torch.float64)
    R = 2 * r * torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(s["gauss_newton"], G)
    torch.testing.assert_close(s["residual_part"], R)
    # the residual part alone has eigenvalues ±2|r|: one negative direction from R


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("d", [1, 2])
def test_split_sums_to_the_exact_hessian_and_gauss_newton_is_psd(activation, d):
    torch.manual_seed(3)
    model = mlp(d, [5, 4], 2, activation=activation).double()
    g = torch.Generator().manual_seed(1)
    X = torch.randn(30, d, generator=g, dtype=torch.float64)
    y = torch.randn(30, 2, generator=g, dtype=torch.float64)
    s = gauss_newton_split(model, X, y)
    H = hessian(model, mse, X, y)
    torch.testing.assert_close(s["gauss_newton"] + s["residual_part"], H, atol=1e-12, rtol=1e-10)
    eig = torch.linalg.eigvalsh(s["gauss_newton"])
    assert eig.min() >= -1e-12 * eig.max()
    P = H.shape[0]
    assert torch.linalg.matrix_rank(s["gauss_newton"]) <= min(60, P)
    loss_grad = torch.autograd.grad(mse(model(X), y), list(model.parameters()))
    torch.testing.assert_close(s["gradient"], torch.cat([t.reshape(-1) for t in loss_grad]))


def test_split_rejects_a_target_of_the_wrong_size():
    model = mlp(1, [3], 1).double()
    with pytest.raises(ValueError, match="must match"):
        gauss_newton_split(model, torch.zeros(4, 1, dtype=torch.float64),
                           torch.zeros(5, 1, dtype=torch.float64))


def test_weyl_bound_on_matrices_with_known_spectra():
    a = symmetric_with_eigenvalues([-1.0, 0.5, 2.0, 3.0], seed=0)
    shift = symmetric_with_eigenvalues([0.0, 0.01, -0.2, 0.05], seed=1)
    assert spectral_distance(a, a + shift) == pytest.approx(0.2, rel=1e-12)
    # commuting case: eigenvalues move by exactly the shift's eigenvalues, the bound is tight
    d = torch.diag(torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64))
    e = torch.diag(torch.tensor([-0.9, 0.5, 2.3], dtype=torch.float64))
    assert spectral_distance(d, e) == pytest.approx(0.3, rel=1e-12)
    # Weyl: every sorted eigenvalue moves by at most the distance
    la, lb = torch.linalg.eigvalsh(a), torch.linalg.eigvalsh(a + shift)
    assert float((la - lb).abs().max()) <= spectral_distance(a, a + shift) + 1e-12


def test_relu_jacobian_rank_is_within_the_linear_region_bound():
    torch.manual_seed(0)
    model = mlp(1, [6, 6], 1, activation="relu").double()
    x = torch.linspace(-1, 1, 200, dtype=torch.float64)[:, None]
    y = torch.sinc(5 * x)
    point = measure_point(model, x, y)
    regions = linear_regions(model, x)
    assert point["rank_gn"] <= 2 * regions
    assert distinct_patterns(model, x) <= regions
    # a single linear region (all units on over the data): rank at most 2
    lin = nn.Sequential(nn.Linear(1, 3), nn.ReLU(), nn.Linear(3, 1)).double()
    with torch.no_grad():
        lin[0].weight.fill_(1.0)
        lin[0].bias.fill_(5.0)
    assert linear_regions(lin, x) == 1
    assert measure_point(lin, x, y)["rank_gn"] == 2


def test_measure_point_matches_the_exact_hessian_and_hg():
    torch.manual_seed(2)
    model = mlp(2, [4], 1, activation="tanh").double()
    g = torch.Generator().manual_seed(0)
    X = torch.randn(20, 2, generator=g, dtype=torch.float64)
    y = torch.randn(20, 1, generator=g, dtype=torch.float64)
    point = measure_point(model, X, y)
    H = hessian(model, mse, X, y)
    np.testing.assert_allclose(point["eig"], torch.linalg.eigvalsh(H).numpy(), atol=1e-12)
    grads = torch.autograd.grad(mse(model(X), y), list(model.parameters()))
    gvec = torch.cat([t.reshape(-1) for t in grads])
    assert point["hg_ratio"] == pytest.approx(float((H @ gvec).norm() / gvec.norm()), rel=1e-9)
    assert point["loss"] == pytest.approx(float(mse(model(X), y)), rel=1e-12)
