"""Phase-2 gradient-norm descent: the objective's gradient against its closed form."""

import pytest
import torch
from exact import FreeVector, quadratic_loss, symmetric_with_eigenvalues
from torch.func import grad

from hw1.critical import find_critical_points, gradient_norm_squared, per_model_loss


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
