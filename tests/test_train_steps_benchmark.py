"""The training-step benchmark's products-alone timer runs exactly the matrix products of the
stacked-MLP step: the same ``baddbmm`` and ``bmm`` calls, in the same order, on the same shapes."""

import sys

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from hw1.ensemble import Ensemble, EnsembleSteps
from hw1.models import mlp
from hw1.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import train_steps  # noqa: E402

PRODUCTS = {"aten.bmm", "aten.baddbmm"}


class _Products(TorchDispatchMode):
    """Records ``(op, shapes of the tensor arguments)`` of every bmm and baddbmm."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func.overloadpacket)
        if name in PRODUCTS:
            self.calls.append((name, tuple(tuple(a.shape) for a in args
                                           if isinstance(a, torch.Tensor))))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("widths,batch", [([20], 128), ([16, 8], 64), ([16, 8], 16)])
def test_products_only_runs_the_steps_products(widths, batch):
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    models = [mlp(12, widths, 3) for _ in range(3)]
    x, y = torch.randn(200, 12, generator=gen), torch.randint(0, 3, (200,), generator=gen)
    ens = Ensemble(models)
    steps = EnsembleSteps(ens, x, y, loss="cross_entropy", optimizer="adam",
                          lrs=lambda s: [1e-3] * 3)
    products = train_steps.ProductsOnly(ens, batch, gen)
    idx = torch.randint(0, 200, (3, batch), generator=gen)
    with _Products() as of_step:
        steps.step(idx, 0, 0)
    with _Products() as of_products:
        products.step(idx, 0, 0)
    assert of_step.calls and of_products.calls == of_step.calls
