"""The error-surface experiment's fast plane evaluator and its Lanczos Hessian eigenpairs,
against the plain evaluator and the exact Hessian."""

import numpy as np
import pytest
import torch

from hw1.experiments.error_surface import mlp_loss_on_plane, top_hessian_eigenpairs
from hw1.metrics import hessian, loss_on_plane
from hw1.models import mlp


def _setup(seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(37, 2, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (37,), generator=g)
    torch.manual_seed(seed)
    model = mlp(6, [5, 3], 4).double()
    dirs = [{n: torch.randn(p.shape, generator=g, dtype=torch.float64)
             for n, p in model.named_parameters()} for _ in range(2)]
    return model, X, y, dirs


def test_fast_plane_equals_the_plain_evaluator():
    model, X, y, (d1, d2) = _setup()
    a, b = torch.linspace(-1, 1, 4, dtype=torch.float64), torch.linspace(-0.5, 2, 3,
                                                                          dtype=torch.float64)
    ce = torch.nn.functional.cross_entropy
    plain = loss_on_plane(model, ce, X, y, d1, d2, a, b, chunk=10)
    fast = mlp_loss_on_plane(model, ce, X, y, d1, d2, a, b, chunk=8)
    torch.testing.assert_close(fast, plain, rtol=1e-12, atol=1e-12)
    line = mlp_loss_on_plane(model, ce, X, y, d1, None, a)
    torch.testing.assert_close(line, loss_on_plane(model, ce, X, y, d1, None, a))
    with pytest.raises(ValueError, match="Flatten, Linear"):
        mlp_loss_on_plane(model[1:], ce, X, y, d1, d2, a, b)


def test_lanczos_top_eigenpairs_match_the_exact_hessian():
    model, X, y, _ = _setup(1)
    ce = torch.nn.functional.cross_entropy
    exact = hessian(model, ce, X, y)
    values, vectors = torch.linalg.eigh(exact)
    got, got_vectors, calls = top_hessian_eigenpairs(model, ce, X, y, k=2, tol=1e-10)
    np.testing.assert_allclose(got, values.flip(0)[:2].numpy(), rtol=1e-8)
    for v, w in zip(got_vectors, vectors.flip(1).T[:2].numpy(), strict=True):
        assert abs(float(v @ w)) == pytest.approx(1.0, abs=1e-6)  # same line, either sign
    assert calls > 0
