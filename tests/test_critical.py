"""Phase-2 gradient-norm descent: the objective's gradient against its closed form."""

import math

import pytest
import torch
from exact import FreeVector, quadratic_loss, symmetric_with_eigenvalues
from torch import nn
from torch.func import grad

from hw1.critical import (
    find_critical_points,
    gradient_norm_squared,
    per_model_loss,
    refine_critical_point,
)
from hw1.data import target_function
from hw1.metrics import hessian_spectrum
from hw1.models import mlp


def test_gradient_of_squared_gradient_norm_on_a_quadratic_is_twice_a_squared_theta():
    A = symmetric_with_eigenvalues([0.5, 1.0, 2.0, 4.0])
    quad = quadratic_loss(A)
    theta = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    loss = per_model_loss(FreeVector(theta), quad, torch.zeros(1), torch.zeros(1))
    params = {"theta": theta}
    assert gradient_norm_squared(loss)(params).item() == pytest.approx(
        (A @ theta).pow(2).sum().item(), rel=1e-12)
    torch.testing.assert_close(grad(gradient_norm_squared(loss))(params)["theta"],
                               2 * A @ A @ theta)


def test_phase_two_finds_the_saddle_that_phase_one_would_leave():
    # L = 0.5 θᵀAθ with one negative eigenvalue: descending the loss runs away along it,
    # descending ‖∇L‖² converges to the saddle at 0.
    A = symmetric_with_eigenvalues([-1.0, 1.0, 2.0])
    quad = quadratic_loss(A)
    models = [FreeVector(torch.randn(3, dtype=torch.float64)) for _ in range(3)]
    res = find_critical_points(models, quad, torch.zeros(1), torch.zeros(1), phase1_steps=0,
                               phase1_lr=0.1, phase2_steps=3000, phase2_lr=0.05, threshold=1e-6)
    assert res.converged.all()
    assert (res.grad_norm < 1e-6).all()
    for m in res.models:
        assert m.theta.abs().max().item() < 1e-5


def test_runs_that_miss_the_threshold_are_reported_not_dropped():
    A = symmetric_with_eigenvalues([1.0, 2.0])
    quad = quadratic_loss(A)
    models = [FreeVector([0.0, 0.0]), FreeVector([5.0, -5.0])]
    res = find_critical_points(models, quad, torch.zeros(1), torch.zeros(1), phase1_steps=0,
                               phase1_lr=0.1, phase2_steps=3, phase2_lr=1e-3, threshold=1e-3)
    assert res.converged.tolist() == [True, False]
    assert res.phase2_steps.tolist() == [0, 3]
    assert len(res.models) == 2 and res.grad_norm[1] > 1e-3
    with pytest.raises(ValueError, match="threshold must be positive"):
        find_critical_points(models, quad, torch.zeros(1), torch.zeros(1), phase1_steps=0,
                             phase1_lr=0.1, phase2_steps=3, phase2_lr=1e-3, threshold=0)


# --- refine_critical_point: Levenberg–Marquardt on ∇L, in float64 --------------------------

EPS64 = torch.finfo(torch.float64).eps
NO_DATA = (torch.zeros(1), torch.zeros(1))


def shifted_quadratic_loss(A: torch.Tensor, b: torch.Tensor):
    """With :class:`FreeVector`: L(θ) = ½ θᵀAθ − bᵀθ, ∇L = Aθ − b, critical point A⁻¹b."""
    quad = quadratic_loss(A)
    return lambda out, target: quad(out, target) - b @ out


def cubic_saddle(out, _):
    """L(x, y) = x³ − 3x + y²: ∇L = (3x² − 3, 2y), a saddle at (−1, 0) (H = diag(−6, 2))
    and a minimum at (1, 0) (H = diag(6, 2))."""
    x, y = out
    return x ** 3 - 3 * x + y ** 2


def rosenbrock(out, _):
    """Minimum at (1, 1), H = [[802, −400], [−400, 200]] there (λ ≈ 0.399, 1001.6)."""
    x, y = out
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def test_refine_reaches_the_exact_saddle_of_an_indefinite_quadratic():
    A = symmetric_with_eigenvalues([-2.0, -0.5, 0.5, 1.0, 3.0], seed=1)
    b = torch.tensor([1.0, -2.0, 0.5, 0.25, 1.5], dtype=torch.float64)
    exact = torch.linalg.solve(A, b)
    # start with ∇L(θ0) = A e = u, ‖u‖ = 1e-3, i.e. the accuracy phase 2 leaves
    u = torch.tensor([1.0, 1.0, -1.0, 2.0, 0.5], dtype=torch.float64)
    u = 1e-3 * u / u.norm()
    model = FreeVector(exact + torch.linalg.solve(A, u))
    loss_fn = shifted_quadratic_loss(A, b)
    res = refine_critical_point(model, loss_fn, *NO_DATA, tol=1e-10)
    assert res["converged"] and res["reason"] == "tol"
    assert res["grad_norm"] <= 1e-10
    assert res["start_grad_norm"] == pytest.approx(1e-3, rel=1e-9)
    assert res["iterations"] <= 5  # a quadratic: (almost) Newton steps from the first one
    # θ − θ* = A⁻¹ ∇L(θ), so ‖θ − θ*‖ <= ‖∇L(θ)‖ / min|λ(A)| (here min|λ| = 0.5). The
    # reported gradient is exact up to its float64 rounding, ~eps (‖A‖‖θ‖ + ‖b‖) (sum of
    # P = 5 products; 64 eps covers it), and the reference A⁻¹b from `solve` carries a
    # backward error of the same form, so both enter the bound divided by min|λ|.
    rounding = 64 * EPS64 * (3.0 * float(exact.norm()) + float(b.norm()))
    bound = (1e-10 + rounding) / 0.5
    assert float((res["params"] - exact).norm()) <= bound
    assert res["loss"] == pytest.approx(float(-0.5 * b @ exact), rel=1e-12)
    # it is the saddle, not some minimum: two negative Hessian eigenvalues at the end
    assert hessian_spectrum(res["model"], loss_fn, *NO_DATA)["negative"] == 2


@pytest.mark.parametrize(("loss_fn", "start", "exact", "lambda_min"), [
    (cubic_saddle, [-0.8, 0.3], [-1.0, 0.0], 2.0),     # saddle
    (cubic_saddle, [1.3, -0.4], [1.0, 0.0], 2.0),      # minimum of the same function
    (rosenbrock, [0.9, 0.8], [1.0, 1.0], 0.3994),      # curved valley, cond(H) ≈ 2500
])
def test_refine_converges_on_non_quadratic_functions(loss_fn, start, exact, lambda_min):
    res = refine_critical_point(FreeVector(start), loss_fn, *NO_DATA, tol=1e-10)
    assert res["converged"] and res["grad_norm"] <= 1e-10
    # to first order θ − θ* = H⁻¹∇L(θ): within ‖∇L‖/λ_min, doubled for the second-order term
    err = float((res["params"] - torch.tensor(exact, dtype=torch.float64)).norm())
    assert err <= 2 * 1e-10 / lambda_min


@pytest.fixture(scope="module")
def mlp_end_point():
    """A 13-parameter ReLU MLP after a short two-phase search on 20 points of sinc."""
    x, y = target_function("sinc").sample(20)
    torch.manual_seed(0)
    res = find_critical_points([mlp(1, [4], 1)], nn.functional.mse_loss, x, y,
                               phase1_steps=200, phase1_lr=1e-2, phase2_steps=200,
                               phase2_lr=1e-3, threshold=1e-3, desc="test")
    return res.models[0], x, y


def test_refine_polishes_the_end_of_a_critical_point_search(mlp_end_point):
    model, x, y = mlp_end_point
    res = refine_critical_point(model, nn.functional.mse_loss, x, y, tol=1e-9)
    assert res["start_grad_norm"] > 1e-4  # phase 2 left it coarse
    assert res["converged"]
    assert res["grad_norm"] < 1e-6 and res["grad_norm"] <= res["start_grad_norm"] / 100
    # the returned loss and gradient norm are those of a fresh float64 evaluation
    fresh = mlp(1, [4], 1).double()
    nn.utils.vector_to_parameters(res["params"], fresh.parameters())
    assert res["params"].dtype == torch.float64 and res["params"].shape == (13,)
    loss = nn.functional.mse_loss(fresh(x.double()), y.double())
    assert res["loss"] == pytest.approx(loss.item(), rel=1e-14)
    # gradient entries are float64 sums of 20 terms of size < 1: equal to within ~20 eps
    g = torch.autograd.grad(loss, list(fresh.parameters()))
    assert math.sqrt(sum(float((t ** 2).sum()) for t in g)) == pytest.approx(res["grad_norm"],
                                                                            abs=64 * EPS64)
    assert res["model"](x.double()).dtype == torch.float64


def test_refine_leaves_the_callers_model_alone(mlp_end_point):
    model, x, y = mlp_end_point
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    res = refine_critical_point(model, nn.functional.mse_loss, x, y, tol=1e-9)
    assert res["distance"] > 0 and res["model"] is not model
    assert model.training
    for k, v in model.state_dict().items():
        assert v.dtype == torch.float32
        assert torch.equal(v, before[k])


def test_refine_reports_a_miss_instead_of_raising():
    res = refine_critical_point(FreeVector([-1.2, 1.0]), rosenbrock, *NO_DATA, tol=1e-10,
                                max_iter=1)
    assert not res["converged"] and res["reason"] == "max_iter"
    assert res["iterations"] == 1 and res["grad_norm"] > 1e-10
    assert res["grad_norm"] <= res["start_grad_norm"]  # steps are kept only if ‖∇L‖ drops


def test_refine_at_a_critical_point_takes_no_step():
    res = refine_critical_point(FreeVector([-1.0, 0.0]), cubic_saddle, *NO_DATA, tol=1e-12)
    assert res["converged"] and res["iterations"] == 0 and res["distance"] == 0.0


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"tol": 0.0}, "tol must be positive"), ({"tol": -1e-6}, "tol must be positive"),
    ({"max_iter": 0}, "max_iter must be >= 1"), ({"damping": 0.0}, "damping must be positive"),
])
def test_refine_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        refine_critical_point(FreeVector([0.0, 0.0]), cubic_saddle, *NO_DATA, **kwargs)


def test_minimal_ratio_cutoff_sweep_and_counts_on_a_known_spectrum():
    import numpy as np

    from hw1.experiments.minimal_ratio import counts, ratio_vs_cutoff

    eig = np.array([[-2.0, -1e-9, 0.0, 1e-7, 1e-3, 4.0]])  # max|λ| = 4
    cutoffs = np.array([0.0, 1e-9, 1e-6, 1e-2])
    # λ > λ_cut·4: 0 -> {1e-7, 1e-3, 4}; 4e-9 -> same; 4e-6 -> {1e-3, 4}; 0.04 -> {4}
    np.testing.assert_allclose(ratio_vs_cutoff(eig, cutoffs), [[3 / 6, 3 / 6, 2 / 6, 1 / 6]])
    c = counts(eig, 1e-6)
    assert (c["negative"][0], c["near_zero"][0], c["positive"][0]) == (1, 3, 2)
