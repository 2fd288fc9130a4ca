"""Generalization metrics (sensitivity, sharpness, interpolation) against exact answers."""

import copy
import itertools

import pytest
import torch
from torch import nn

from hw1.metrics import (
    interpolate,
    per_sample_sensitivity,
    sensitivities,
    sensitivity,
    sharpness,
    sharpness_details,
)
from hw1.models import cnn, mlp


def _linear_softmax(d=6, k=4, n=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    model = nn.Linear(d, k).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(k, d, generator=g, dtype=torch.float64))
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randint(0, k, (n,), generator=g)
    return model, X, y


def test_jacobian_sensitivity_of_linear_softmax_equals_closed_form():
    model, X, y = _linear_softmax()
    W = model.weight.detach()
    p = torch.softmax(model(X), 1).detach()
    expected = torch.stack([((torch.diag(pi) - torch.outer(pi, pi)) @ W).norm() for pi in p])
    torch.testing.assert_close(per_sample_sensitivity(model, X, kind="jacobian"), expected)
    assert sensitivity(model, X) == pytest.approx(expected.mean().item(), rel=1e-12)


def test_loss_gradient_sensitivity_of_linear_softmax_equals_closed_form():
    model, X, y = _linear_softmax()
    W = model.weight.detach()
    p = torch.softmax(model(X), 1).detach()
    onehot = nn.functional.one_hot(y, p.shape[1]).double()
    expected = ((p - onehot) @ W).norm(dim=1)  # per sample: ‖Wᵀ(p − e_y)‖
    got = per_sample_sensitivity(model, X, y, kind="loss_gradient")
    torch.testing.assert_close(got, expected)


def test_both_readings_at_once_equal_the_single_readings():
    model, X, y = _linear_softmax()
    both = sensitivities(model, X, y, chunk=7)
    assert both["jacobian"] == pytest.approx(sensitivity(model, X), rel=1e-12)
    assert both["loss_gradient"] == pytest.approx(sensitivity(model, X, y, "loss_gradient"),
                                                  rel=1e-12)


@pytest.mark.parametrize("kind", ["jacobian", "loss_gradient"])
def test_sensitivity_does_not_depend_on_batching(kind):
    model, X, y = _linear_softmax(n=40)
    whole = per_sample_sensitivity(model, X, y, kind, chunk=40)
    torch.testing.assert_close(per_sample_sensitivity(model, X, y, kind, chunk=7), whole)
    torch.testing.assert_close(per_sample_sensitivity(model, X[:5], y[:5], kind), whole[:5])


def test_jacobian_sensitivity_matches_finite_differences_on_a_small_mlp():
    torch.manual_seed(0)
    model = mlp(3, [5, 4], 3).double()
    X = torch.randn(4, 3, dtype=torch.float64)
    h = 1e-6
    expected = []
    for x in X:
        cols = []
        for j in range(3):
            e = torch.zeros(3, dtype=torch.float64)
            e[j] = h
            with torch.no_grad():
                cols.append((torch.softmax(model((x + e)[None]), 1)
                             - torch.softmax(model((x - e)[None]), 1))[0] / (2 * h))
        expected.append(torch.stack(cols, 1).norm())
    torch.testing.assert_close(per_sample_sensitivity(model, X), torch.stack(expected),
                               rtol=1e-6, atol=1e-9)


def test_sensitivity_works_on_a_cnn_and_rejects_bad_arguments():
    torch.manual_seed(0)
    model = cnn((1, 8, 8), [3], 10)
    X = torch.randn(5, 1, 8, 8)
    assert per_sample_sensitivity(model, X).shape == (5,)
    with pytest.raises(ValueError, match="needs the labels y"):
        sensitivity(model, X, kind="loss_gradient")
    with pytest.raises(ValueError, match="unknown sensitivity kind 'hessian'"):
        sensitivity(model, X, kind="hessian")


def test_sharpness_of_least_squares_at_its_minimizer_equals_the_box_vertex_maximum():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(50, 3, generator=g, dtype=torch.float64)
    y = torch.randn(50, 1, generator=g, dtype=torch.float64) + 2.0
    Xa = torch.cat([X, torch.ones(50, 1, dtype=torch.float64)], 1)
    theta = torch.linalg.lstsq(Xa, y).solution[:, 0]
    model = nn.Linear(3, 1).double()
    with torch.no_grad():
        model.weight.copy_(theta[:3][None])
        model.bias.copy_(theta[3:])
    mse = nn.functional.mse_loss
    base = mse(model(X), y).item()
    A = Xa.T @ Xa / 50  # L(θ*+δ) − L(θ*) = δᵀAδ at the minimizer
    for eps in (1e-3, 5e-4):
        half = eps * (theta.abs() + 1)
        best = max((torch.tensor(s, dtype=torch.float64) * half) @ A
                   @ (torch.tensor(s, dtype=torch.float64) * half)
                   for s in itertools.product((-1, 1), repeat=4)).item()
        expected = 100 * best / (1 + base)
        # each search ends at a local maximum (a vertex), never above the true maximum ...
        for seed in range(5):
            single = sharpness(model, mse, X, y, epsilon=eps, restarts=1, seed=seed)
            assert 0 < single <= expected * (1 + 1e-9)
        # ... and enough restarts find the global one
        assert sharpness(model, mse, X, y, epsilon=eps, restarts=20) == pytest.approx(
            expected, rel=1e-6)


def test_sharpness_details_raw_increase_scales_like_eps_squared_at_a_minimum_and_eps_off_it():
    # L(w) = mean((w x - y)^2) with x = 1, y = 0: L = w^2. The box is |δ| <= ε(|w| + 1).
    model = nn.Linear(1, 1, bias=False).double()
    X = torch.ones(4, 1, dtype=torch.float64)
    y = torch.zeros(4, 1, dtype=torch.float64)
    mse = nn.functional.mse_loss
    with torch.no_grad():
        model.weight.fill_(0.0)  # the minimum: max increase ε², exactly quadratic
    raw = [sharpness_details(model, mse, X, y, epsilon=e)["raw"] for e in (0.02, 0.01)]
    assert raw == pytest.approx([0.02 ** 2, 0.01 ** 2], rel=1e-9)
    with torch.no_grad():
        model.weight.fill_(1.0)  # off the minimum: (1 + 2ε)^2 − 1 = 4ε + 4ε², mostly linear
    for eps in (0.02, 0.01):
        d = sharpness_details(model, mse, X, y, epsilon=eps)
        assert d["loss"] == pytest.approx(1.0)
        assert d["raw"] == pytest.approx(4 * eps + 4 * eps ** 2, rel=1e-9)
        assert d["normalized"] == pytest.approx(100 * d["raw"] / 2, rel=1e-12)
        assert sharpness(model, mse, X, y, epsilon=eps) == d["normalized"]


def test_sharpness_is_not_stuck_at_delta_zero_and_rejects_bad_epsilon():
    # at a minimum the gradient is zero; a search from δ = 0 would report 0
    model = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        model.weight.fill_(0.0)
    X = torch.ones(4, 1, dtype=torch.float64)
    y = torch.zeros(4, 1, dtype=torch.float64)
    assert sharpness(model, nn.functional.mse_loss, X, y, epsilon=0.1) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="epsilon must be positive"):
        sharpness(model, nn.functional.mse_loss, X, y, epsilon=0)


def _bn_model(seed):
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    m.train()
    m(torch.randn(16, 3))  # update the running statistics
    return m.eval()


def test_interpolate_endpoints_midpoint_and_batchnorm_buffers():
    a, b = _bn_model(0), _bn_model(1)
    a_before, b_before = copy.deepcopy(a.state_dict()), copy.deepcopy(b.state_dict())
    for key, value in interpolate(a, b, 0.0).state_dict().items():
        assert torch.equal(value, a_before[key])
    for key, value in interpolate(a, b, 1.0).state_dict().items():
        if value.is_floating_point():
            assert torch.equal(value, b_before[key])
    mid = interpolate(a, b, 0.5).state_dict()
    for key in ("0.weight", "1.running_mean", "1.running_var", "3.bias"):
        torch.testing.assert_close(mid[key], (a_before[key] + b_before[key]) / 2)
    torch.testing.assert_close(interpolate(a, b, 2.0).state_dict()["0.weight"],
                               2 * b_before["0.weight"] - a_before["0.weight"])
    for key, value in a.state_dict().items():  # inputs unchanged
        assert torch.equal(value, a_before[key])
    for key, value in b.state_dict().items():
        assert torch.equal(value, b_before[key])


def test_interpolate_refuses_different_architectures():
    with pytest.raises(ValueError, match="different architecture"):
        interpolate(mlp(2, [3], 2), mlp(2, [4], 2), 0.5)
    with pytest.raises(ValueError, match="different architecture"):
        interpolate(nn.Sequential(nn.Linear(2, 2), nn.ReLU()),
                    nn.Sequential(nn.Linear(2, 2), nn.Tanh()), 0.5)
