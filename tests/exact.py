"""Small problems with exact answers, shared by the metric tests."""

import torch
from torch import nn


class FreeVector(nn.Module):
    """Outputs its parameter vector, ignoring the input: lets a test define L(θ) directly."""

    def __init__(self, theta):
        super().__init__()
        self.theta = nn.Parameter(torch.as_tensor(theta, dtype=torch.float64))

    def forward(self, x):
        return self.theta


class Product(nn.Module):
    """output = a·b·x: with x = 1 and target y = 1 the MSE is L(a, b) = (ab − 1)², residual
    r = ab − 1 (float64 parameters)."""

    def __init__(self, a, b):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(float(a), dtype=torch.float64))
        self.b = nn.Parameter(torch.tensor(float(b), dtype=torch.float64))

    def forward(self, x):
        return self.a * self.b * x


def symmetric_with_eigenvalues(eigenvalues, seed=0) -> torch.Tensor:
    """A random orthogonal conjugate of ``diag(eigenvalues)`` (float64)."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(len(eigenvalues), len(eigenvalues), generator=g,
                                       dtype=torch.float64))
    return q @ torch.diag(torch.as_tensor(eigenvalues, dtype=torch.float64)) @ q.T


def quadratic_loss(A: torch.Tensor):
    """``loss_fn(out, _) = ½ outᵀ A out``: with :class:`FreeVector`, L(θ) = ½ θᵀAθ."""
    return lambda out, _: 0.5 * out @ A @ out
