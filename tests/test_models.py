import pytest
import torch
from torch import nn

from hw1.models import (
    cnn,
    cnn_param_count,
    cnn_with_params,
    count_params,
    mlp,
    mlp_param_count,
    mlp_with_params,
    widths_of,
)


def test_linear_and_conv_parameter_formulas():
    assert count_params(nn.Linear(7, 3)) == 7 * 3 + 3
    assert count_params(nn.Conv2d(3, 5, 3)) == 3 * 5 * 9 + 5
    assert count_params(nn.Conv2d(2, 4, (3, 5), bias=False)) == 2 * 4 * 15


@pytest.mark.parametrize("widths", [[1], [5, 7], [3, 3, 3, 9]])
def test_mlp_count_formula_matches_built_model(widths):
    model = mlp(4, widths, 2)
    assert count_params(model) == mlp_param_count(4, widths, 2)
    assert model(torch.randn(6, 4)).shape == (6, 2)
    assert widths_of(model) == widths


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("channels", [[4], [3, 5], [2, 2, 2, 6]])
def test_cnn_count_formula_matches_built_model(shape, channels):
    model = cnn(shape, channels, 10)
    assert count_params(model) == cnn_param_count(shape[0], channels, 10)
    assert model(torch.randn(2, *shape)).shape == (2, 10)
    assert widths_of(model) == channels


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("shape, channels, pool_to", [((1, 28, 28), [6], 4),
                                                      ((3, 32, 32), [4, 5], 4),
                                                      ((1, 8, 8), [3, 3, 4], 1)])
def test_cnn_pools_before_relu_with_the_values_and_gradients_of_relu_then_pool(
        shape, channels, pool_to, memory_format):
    torch.manual_seed(0)
    model = cnn(shape, channels, 10, pool_to).to(memory_format=memory_format)
    kinds = [type(m) for m in model]
    assert any(a is nn.MaxPool2d and b is nn.ReLU for a, b in zip(kinds, kinds[1:], strict=False))
    # the textbook order: every "maxpool -> ReLU" pair back to "ReLU -> maxpool"
    layers = list(model)
    for i in range(len(layers) - 1):
        if isinstance(layers[i], nn.MaxPool2d) and isinstance(layers[i + 1], nn.ReLU):
            layers[i], layers[i + 1] = layers[i + 1], layers[i]
    textbook = nn.Sequential(*layers)
    x = torch.randn(16, *shape).contiguous(memory_format=memory_format)
    x[:, :, :2] = 0.0  # ties at zero, where ReLU's gradient is 0
    y = torch.randint(0, 10, (16,))
    out = [m(x) for m in (model, textbook)]
    grads = [torch.autograd.grad(nn.functional.cross_entropy(o, y), list(model.parameters()))
             for o in out]
    assert torch.equal(out[0], out[1])
    for g, h in zip(*grads, strict=True):
        assert torch.equal(g, h)


@pytest.mark.parametrize("target", [300, 571, 750, 2000, 10_000, 50_000])
@pytest.mark.parametrize("depth", [1, 2, 3, 5, 8])
def test_mlp_with_params_within_one_percent(target, depth):
    model = mlp_with_params(target, depth)
    assert abs(count_params(model) - target) <= 0.01 * target
    assert len(widths_of(model)) == depth


def test_mlp_with_params_other_input_output_sizes():
    model = mlp_with_params(20_000, 3, in_features=64, out_features=10)
    assert abs(count_params(model) - 20_000) <= 200
    assert model(torch.randn(5, 1, 8, 8)).shape == (5, 10)


def test_equal_parameter_widths_are_balanced():
    widths = widths_of(mlp_with_params(5000, 4))
    assert max(widths) / min(widths) < 1.2


@pytest.mark.parametrize("shape, target", [((1, 8, 8), 3400), ((1, 28, 28), 20_000),
                                           ((3, 32, 32), 60_000)])
@pytest.mark.parametrize("depth", [1, 2, 4])
def test_cnn_with_params_within_one_percent(shape, target, depth):
    model = cnn_with_params(target, depth, shape, 10)
    assert abs(count_params(model) - target) <= 0.01 * target
    assert len(widths_of(model)) == depth


def test_unreachable_target_says_smallest():
    with pytest.raises(ValueError, match=r"no model of depth 10 has 10 parameters; the smallest"):
        mlp_with_params(10, 10)


def test_target_between_reachable_counts_says_nearest():
    # one conv layer on 8x8 digits: every extra channel adds 9 + 1 + 16 * 10 = 170 parameters
    with pytest.raises(ValueError, match=r"no model of depth 1 comes within 1% of 3000 "
                                         r"parameters; the nearest has 3070"):
        cnn_with_params(3000, 1, (1, 8, 8), 10)


@pytest.mark.parametrize("kwargs, what", [({"target": 0, "depth": 2}, "target"),
                                          ({"target": 500, "depth": 0}, "depth"),
                                          ({"target": -5, "depth": 1}, "target"),
                                          ({"target": 500, "depth": 2.0}, "depth")])
def test_non_positive_target_or_depth(kwargs, what):
    with pytest.raises(ValueError, match=rf"{what} must be a positive integer"):
        mlp_with_params(**kwargs)


@pytest.mark.parametrize("bad", [[], [3, 0], [2, -1]])
def test_non_positive_widths(bad):
    with pytest.raises(ValueError, match="at least one hidden layer|positive integers"):
        mlp(1, bad, 1)
    with pytest.raises(ValueError, match="at least one hidden layer|positive integers"):
        cnn((1, 8, 8), bad, 10)
