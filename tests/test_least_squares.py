"""Levenberg-Marquardt fitting (hw1.least_squares) against exact answers."""

import copy

import pytest
import torch
from torch import nn

from hw1.least_squares import fit_least_squares


def test_linear_model_reaches_the_normal_equations_solution():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 3, generator=g)
    y = torch.randn(50, 2, generator=g)
    model = nn.Linear(3, 2)
    fit = fit_least_squares(model, x, y, max_iter=100)
    design = torch.cat([x, torch.ones(50, 1)], 1).double()
    coef = torch.linalg.lstsq(design, y.double()).solution  # (4, 2)
    exact_loss = float((design @ coef - y.double()).square().mean())
    assert fit["reason"] in ("converged", "stalled")  # at the optimum no step can lower it
    assert fit["loss"] == pytest.approx(exact_loss, rel=1e-10)
    torch.testing.assert_close(fit["model"].weight, coef[:3].T, rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(fit["model"].bias, coef[3], rtol=1e-7, atol=1e-9)
    assert fit["grad_norm"] < 1e-8
    assert model.weight.dtype == torch.float32  # the caller's model is untouched


def test_nonlinear_zero_residual_problem_recovers_the_teacher():
    # y = 1.5 tanh(2x - 0.3) + 0.2: an identifiable 4-parameter model with zero residual
    teacher = nn.Sequential(nn.Linear(1, 1), nn.Tanh(), nn.Linear(1, 1)).double()
    with torch.no_grad():
        for p, v in zip(teacher.parameters(), (2.0, -0.3, 1.5, 0.2), strict=True):
            p.fill_(v)
    x = torch.linspace(-2, 2, 40).unsqueeze(1).double()
    with torch.no_grad():
        y = teacher(x)
    student = copy.deepcopy(teacher)
    with torch.no_grad():
        for p, dv in zip(student.parameters(), (0.3, 0.2, -0.4, 0.1), strict=True):
            p.add_(dv)
    fit = fit_least_squares(student, x, y, max_iter=200)
    assert fit["start_loss"] > 1e-4
    assert fit["loss"] < 1e-24
    assert fit["loss_trace"] == sorted(fit["loss_trace"], reverse=True)  # only descent steps
    flat_teacher = torch.cat([p.reshape(-1) for p in teacher.parameters()])
    torch.testing.assert_close(fit["params"], flat_teacher, rtol=0, atol=1e-8)


def test_rejected_steps_do_not_count_as_a_plateau():
    # start exactly at the least-squares optimum: every trial step is rejected, so the fit
    # must end "stalled" (no descent found), not "converged" (which needs kept steps)
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(30, 2, generator=g).double(), torch.randn(30, 1, generator=g).double()
    design = torch.cat([x, torch.ones(30, 1, dtype=torch.float64)], 1)
    coef = torch.linalg.lstsq(design, y).solution
    model = nn.Linear(2, 1).double()
    with torch.no_grad():
        model.weight.copy_(coef[:2].T)
        model.bias.copy_(coef[2])
    fit = fit_least_squares(model, x, y, max_iter=500, rel_tol=1e-3, patience=2)
    assert fit["accepted"] <= 1 and not fit["converged"]
    assert fit["reason"] == "stalled" and fit["grad_norm"] < 1e-12


def test_fits_never_raise_the_loss_and_bad_settings():
    x = torch.linspace(-1, 1, 20).unsqueeze(1)
    y = x ** 2
    fits = [fit_least_squares(nn.Linear(1, 1), x, y, max_iter=20) for _ in range(2)]
    assert len(fits) == 2 and all(f["loss"] <= f["start_loss"] for f in fits)
    with pytest.raises(ValueError, match="real-valued targets"):
        fit_least_squares(nn.Linear(1, 2), x, torch.zeros(20, dtype=torch.long))
    with pytest.raises(ValueError, match="max_iter and patience"):
        fit_least_squares(nn.Linear(1, 1), x, y, max_iter=0)
    with pytest.raises(ValueError, match="rel_tol and damping"):
        fit_least_squares(nn.Linear(1, 1), x, y, rel_tol=0.0)


def test_mlp_jacobian_equals_per_sample_jacrev():
    from torch.func import jacrev, vmap

    from hw1.least_squares import _mlp_layers, _single_sample_output, mlp_jacobian

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 4), nn.Tanh(),
                          nn.Linear(4, 2)).double()
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    x = torch.randn(9, 3, dtype=torch.float64)
    expected = vmap(jacrev(_single_sample_output(model)), in_dims=(None, 0))(theta, x)
    got = mlp_jacobian(_mlp_layers(model), theta, x)
    torch.testing.assert_close(got, expected.reshape(-1, len(theta)), rtol=0, atol=1e-14)
    assert not got.requires_grad
    assert _mlp_layers(nn.Sequential(nn.Conv1d(1, 1, 1))) is None
    assert _mlp_layers(nn.Sequential(nn.Linear(2, 2, bias=False))) is None


def test_first_step_solves_the_damped_normal_equations_in_dual_and_primal_form():
    # 8 residuals < 19 parameters: the dual system; 40 residuals > 19: the primal one
    from torch.func import jacrev, vmap

    from hw1.least_squares import _single_sample_output

    for n in (8, 40):
        torch.manual_seed(1)
        model = nn.Sequential(nn.Linear(1, 6), nn.Tanh(), nn.Linear(6, 1)).double()
        x = torch.linspace(-1, 1, n, dtype=torch.float64).unsqueeze(1)
        y = torch.sin(3 * x)
        theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        single = _single_sample_output(model)
        J = vmap(jacrev(single), in_dims=(None, 0))(theta, x).reshape(n, -1)
        r = vmap(single, in_dims=(None, 0))(theta, x).reshape(-1) - y.reshape(-1)
        JtJ = J.T @ J
        D = torch.diag(torch.diagonal(JtJ) + 1e-12)
        expected = theta + torch.linalg.solve(JtJ + 1.0 * D, -J.T @ r)
        fit = fit_least_squares(model, x, y, max_iter=1, damping=1.0)
        assert fit["accepted"] == 1
        torch.testing.assert_close(fit["params"], expected, rtol=1e-6, atol=1e-9)
