"""Hutchinson Hessian-trace estimate against exact traces and the exact estimator variance."""

import math

import pytest
import torch
from exact import FreeVector, quadratic_loss, symmetric_with_eigenvalues
from torch import nn

from hw1.metrics import hessian, hessian_trace
from hw1.models import mlp

mse = nn.functional.mse_loss
ZERO = torch.zeros(1)


def _rademacher_std(H: torch.Tensor, samples: int) -> float:
    """Exact standard deviation of the Rademacher Hutchinson mean over ``samples`` probes."""
    off_diagonal = (H**2).sum() - (torch.diagonal(H) ** 2).sum()
    return math.sqrt(2 * float(off_diagonal) / samples)


def _small_mlp_problem(seed=0):
    torch.manual_seed(seed)
    model = mlp(3, [5], 2)  # float32, P = (3 + 1) * 5 + (5 + 1) * 2 = 32
    g = torch.Generator().manual_seed(seed + 1)
    X = torch.randn(20, 3, generator=g)
    y = torch.randn(20, 2, generator=g)
    return model, X, y


@pytest.mark.parametrize("samples", [1, 3, 100])
def test_diagonal_hessian_is_estimated_exactly(samples):
    diagonal = torch.tensor([0.5, -2.0, 3.0, 7.25, 0.0], dtype=torch.float64)
    model = FreeVector([0.3, -1.0, 2.0, 0.1, 4.0])
    gen = torch.Generator().manual_seed(samples)
    estimate = hessian_trace(model, quadratic_loss(torch.diag(diagonal)), ZERO, ZERO,
                             samples=samples, generator=gen)
    assert estimate == pytest.approx(float(diagonal.sum()), abs=1e-12)


def test_quadratic_trace_within_exact_standard_errors():
    eigenvalues = [-1.0, 0.5, 2.0, 3.0, 6.0]
    A = symmetric_with_eigenvalues(eigenvalues)
    samples = 400
    estimate = hessian_trace(FreeVector(torch.ones(5)), quadratic_loss(A), ZERO, ZERO,
                             samples=samples, generator=torch.Generator().manual_seed(0))
    std = _rademacher_std(A, samples)
    assert std > 0.05  # A is far from diagonal, so this is a real statistical test
    assert abs(estimate - sum(eigenvalues)) < 4 * std


def test_frozen_parameters_are_left_out():
    class TwoParts(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(torch.tensor([1.0, 2.0], dtype=torch.float64))
            self.b = nn.Parameter(torch.tensor([3.0], dtype=torch.float64),
                                  requires_grad=False)

        def forward(self, x):
            return torch.cat([self.a, self.b])

    diagonal = torch.tensor([2.0, 5.0, 100.0], dtype=torch.float64)
    estimate = hessian_trace(TwoParts(), quadratic_loss(torch.diag(diagonal)), ZERO, ZERO,
                             samples=2)
    assert estimate == pytest.approx(7.0, abs=1e-12)  # b's 100 is not trainable


def test_mlp_trace_within_four_exact_standard_errors():
    model, X, y = _small_mlp_problem()
    H = hessian(model, mse, X, y)
    exact = float(torch.trace(H))
    samples = 2000
    std = _rademacher_std(H, samples)
    assert std > 1e-3 * abs(exact)  # the Hessian is genuinely non-diagonal
    estimate = hessian_trace(model, mse, X, y, samples=samples,
                             generator=torch.Generator().manual_seed(1))
    assert abs(estimate - exact) < 4 * std
    # the estimate is float64 on a float64 copy: chunking does not change it beyond rounding
    again = hessian_trace(model, mse, X, y, samples=samples, chunk_size=7,
                          generator=torch.Generator().manual_seed(1))
    assert again == pytest.approx(estimate, rel=1e-12)


def test_same_seed_same_estimate_and_model_untouched():
    model, X, y = _small_mlp_problem()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}

    def run(seed):
        return hessian_trace(model, mse, X, y, samples=10,
                             generator=torch.Generator().manual_seed(seed))

    first = run(3)
    assert run(3) == first
    assert run(4) != first
    assert model.training
    for k, v in model.state_dict().items():
        assert v.dtype == torch.float32
        assert torch.equal(v, before[k])
    assert all(p.grad is None for p in model.parameters())


def test_bad_inputs():
    model, X, y = _small_mlp_problem()
    with pytest.raises(ValueError, match="samples must be an integer >= 1"):
        hessian_trace(model, mse, X, y, samples=0)
    with pytest.raises(ValueError, match="samples must be an integer >= 1"):
        hessian_trace(model, mse, X, y, samples=2.5)
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        hessian_trace(model, mse, X, y, chunk_size=0)
    with pytest.raises(ValueError, match="no trainable parameters"):
        hessian_trace(nn.ReLU(), mse, X, X)
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        hessian_trace(model, mse, X, y)
