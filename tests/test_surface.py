"""Loss-landscape helpers: filter normalization and loss on a plane."""

import copy

import pytest
import torch
from torch import nn

from hw1.metrics import difference_direction, filter_normalized_direction, loss_on_plane
from hw1.models import cnn, mlp

ce = nn.functional.cross_entropy


def _data(n=64, d=5, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randint(0, k, (n,), generator=g)


def test_filters_have_the_norm_of_their_weights_and_biases_get_zero():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    d = filter_normalized_direction(model, torch.Generator().manual_seed(1))
    for name, p in model.named_parameters():
        if p.dim() == 1:
            assert torch.equal(d[name], torch.zeros_like(p))
        else:
            torch.testing.assert_close(d[name].reshape(len(p), -1).norm(dim=1),
                                       p.detach().reshape(len(p), -1).norm(dim=1))


def test_rescaling_a_relu_layer_leaves_the_filter_normalized_curve_unchanged():
    torch.manual_seed(0)
    X, y = _data()
    model = mlp(5, [7, 6], 3).double()
    scaled = copy.deepcopy(model)
    c = 3.7
    with torch.no_grad():  # layer 1 (weight and bias) times c, layer 2's weight divided by c
        scaled[1].weight.mul_(c)
        scaled[1].bias.mul_(c)
        scaled[3].weight.div_(c)
    X = X.double()
    torch.testing.assert_close(model(X), scaled(X))  # the same function
    alphas = torch.linspace(-1, 1, 9, dtype=torch.float64)
    curves = [loss_on_plane(m, ce, X, y, filter_normalized_direction(
        m, torch.Generator().manual_seed(5)), None, alphas) for m in (model, scaled)]
    torch.testing.assert_close(curves[0], curves[1])
    # without filter normalization the curves differ: the test can fail
    raw = {n: torch.randn(p.shape, generator=torch.Generator().manual_seed(5), dtype=p.dtype)
           for n, p in model.named_parameters()}
    plain = [loss_on_plane(m, ce, X, y, raw, None, alphas) for m in (model, scaled)]
    assert not torch.allclose(plain[0], plain[1])


def test_loss_on_plane_matches_direct_evaluation():
    torch.manual_seed(0)
    X, y = _data()
    model = mlp(5, [4], 3)
    g = torch.Generator().manual_seed(2)
    d1, d2 = (filter_normalized_direction(model, g) for _ in range(2))
    grid = loss_on_plane(model, ce, X, y, d1, d2, torch.tensor([0.0, 0.5]),
                         torch.tensor([-1.0, 0.0, 2.0]), chunk=10)
    assert grid.shape == (2, 3)
    moved = copy.deepcopy(model)
    with torch.no_grad():
        for n, p in moved.named_parameters():
            p.add_(0.5 * d1[n] + 2.0 * d2[n])
    assert grid[1, 2].item() == pytest.approx(ce(moved(X), y).item(), rel=1e-5)
    assert grid[0, 1].item() == pytest.approx(ce(model(X), y).item(), rel=1e-6)


def test_line_from_one_model_to_another_hits_both_ends():
    torch.manual_seed(0)
    X, y = _data()
    a, b = cnn((1, 4, 4), [2], 3), cnn((1, 4, 4), [2], 3)
    Xi = X[:, :4].repeat(1, 4).reshape(-1, 1, 4, 4)
    line = loss_on_plane(a, ce, Xi, y, difference_direction(a, b), None,
                         torch.tensor([0.0, 1.0]))
    assert line[0].item() == pytest.approx(ce(a(Xi), y).item(), rel=1e-5)
    assert line[1].item() == pytest.approx(ce(b(Xi), y).item(), rel=1e-5)
