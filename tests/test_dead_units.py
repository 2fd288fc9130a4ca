"""dead_relu_parameters: a hand-built network with one dead unit."""

import pytest
import torch
from torch import nn

from hw1.metrics import dead_relu_parameters, hessian
from hw1.models import mlp


def _net_with_one_dead_unit():
    net = mlp(1, [2], 1).double()
    with torch.no_grad():
        lin1, lin2 = net[1], net[3]
        lin1.weight.copy_(torch.tensor([[-1.0], [2.0]]))  # unit 0: -x - 5 < 0 on [-1, 1]
        lin1.bias.copy_(torch.tensor([-5.0, 0.5]))
        lin2.weight.copy_(torch.tensor([[0.7, -1.3]]))
        lin2.bias.fill_(0.1)
    return net


def test_dead_unit_parameters_are_exactly_the_zero_rows_of_the_hessian():
    net = _net_with_one_dead_unit()
    x = torch.linspace(-1, 1, 41).unsqueeze(1).double()
    y = torch.sin(3 * x)
    out = dead_relu_parameters(net, x)
    # parameters() order: W1 (2x1), b1 (2), W2 (1x2), b2 (1)
    assert out["mask"].tolist() == [True, False, True, False, True, False, False]
    assert (out["dead_parameters"], out["dead_units"], out["alive_units"]) == (3, 1, 1)
    H = hessian(net, nn.functional.mse_loss, x, y)
    zero_rows = (H.abs().sum(1) == 0)
    assert zero_rows.tolist() == out["mask"].tolist()


def test_all_alive_and_bad_models():
    net = mlp(1, [3, 3], 1)
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.fill_(0.5)
                m.bias.fill_(2.0)  # every pre-activation > 0 for x in [0, 1]
    out = dead_relu_parameters(net, torch.linspace(0, 1, 11).unsqueeze(1))
    assert (out["dead_parameters"], out["dead_units"], out["alive_units"]) == (0, 0, 6)
    with pytest.raises(ValueError, match="nn.ReLU"):
        dead_relu_parameters(mlp(1, [3], 1, activation="tanh"), torch.zeros(4, 1))
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        mlp(1, [3], 1, activation="gelu")
