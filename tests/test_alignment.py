"""hw1.alignment: weight matching recovers a known permutation exactly, a permuted MLP computes
the same function, and one hidden layer's matching equals brute force over all permutations."""

import itertools

import pytest
import torch
from torch import nn

from hw1.alignment import match_hidden_units, parameter_distance, permute_hidden_units
from hw1.models import image_mlp, mlp


def _random_mlp(widths, seed, in_features=6, out_features=3):
    torch.manual_seed(seed)
    model = mlp(in_features, widths, out_features)
    with torch.no_grad():  # weights of similar size in every layer
        for p in model.parameters():
            p.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(seed + p.numel()))
    return model


def _random_perms(widths, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randperm(w, generator=g) for w in widths]


def test_permuted_copy_computes_the_same_function():
    model = _random_mlp([8, 7], seed=0)
    permuted = permute_hidden_units(model, _random_perms([8, 7], seed=1))
    x = torch.randn(20, 6, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(permuted(x), model(x), atol=1e-6)
    assert parameter_distance(permuted, model) > 1.0  # the weights did move
    assert permuted is not model and isinstance(permuted, nn.Sequential)


def test_permuting_rows_and_columns_exactly():
    model = _random_mlp([4], seed=3, in_features=2, out_features=2)
    perm = torch.tensor([2, 0, 3, 1])
    permuted = permute_hidden_units(model, [perm])
    assert torch.equal(permuted[1].weight, model[1].weight[perm])
    assert torch.equal(permuted[1].bias, model[1].bias[perm])
    assert torch.equal(permuted[3].weight, model[3].weight[:, perm])
    assert torch.equal(permuted[3].bias, model[3].bias)
    original = model[1].weight.clone()
    assert torch.equal(model[1].weight, original)  # the input model is left alone


@pytest.mark.parametrize("widths", [[8, 7], [5, 6, 4]])
def test_a_permuted_copy_aligns_back_exactly(widths):
    model_a = _random_mlp(widths, seed=4)
    true = _random_perms(widths, seed=5)
    model_b = permute_hidden_units(model_a, true)
    found = match_hidden_units(model_a, model_b)
    assert [p.dtype for p in found] == [torch.long] * len(widths)
    for p, q in zip(true, found, strict=True):  # found inverts the permutation: p[q] = id
        assert torch.equal(p[q], torch.arange(len(p)))
    assert parameter_distance(model_a, permute_hidden_units(model_b, found)) == 0.0


def test_one_hidden_layer_matches_brute_force_over_all_permutations():
    model_a = _random_mlp([5], seed=6, in_features=3, out_features=2)
    model_b = _random_mlp([5], seed=7, in_features=3, out_features=2)  # unrelated weights
    distances = {perm: parameter_distance(model_a, permute_hidden_units(model_b,
                                                                        [torch.tensor(perm)]))
                 for perm in itertools.permutations(range(5))}
    assert len(distances) == 120
    best = min(distances, key=distances.get)
    found = match_hidden_units(model_a, model_b)
    assert tuple(found[0].tolist()) == best
    assert parameter_distance(model_a, permute_hidden_units(model_b, found)) < \
        parameter_distance(model_a, model_b) or best == tuple(range(5))


def test_matching_is_deterministic_and_never_worse_than_identity():
    a, b = _random_mlp([6, 6], seed=8), _random_mlp([6, 6], seed=9)
    first, again = match_hidden_units(a, b), match_hidden_units(a, b)
    assert all(torch.equal(p, q) for p, q in zip(first, again, strict=True))
    assert parameter_distance(a, permute_hidden_units(b, first)) <= parameter_distance(a, b)


def test_image_mlp_without_flatten_and_with_tanh():
    a = image_mlp((1, 2, 2), [3, 3], 2)
    true = _random_perms([3, 3], seed=10)
    found = match_hidden_units(a, permute_hidden_units(a, true))
    assert parameter_distance(a, permute_hidden_units(permute_hidden_units(a, true), found)) \
        == 0.0
    torch.manual_seed(0)
    bare = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = torch.randn(5, 3)
    perm = [torch.tensor([3, 1, 0, 2])]
    assert torch.allclose(permute_hidden_units(bare, perm)(x), bare(x), atol=1e-6)


def test_clear_errors():
    a = mlp(4, [5, 3], 2)
    with pytest.raises(ValueError, match="same widths"):
        match_hidden_units(a, mlp(4, [5, 4], 2))
    with pytest.raises(TypeError, match="nn.Sequential"):
        match_hidden_units(nn.Linear(3, 2), nn.Linear(3, 2))
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    with pytest.raises(TypeError, match="not an MLP"):
        match_hidden_units(conv, conv)
    with pytest.raises(TypeError, match="not an MLP"):
        permute_hidden_units(nn.Sequential(nn.Linear(3, 2)), [])
    with pytest.raises(TypeError, match="not an MLP"):
        match_hidden_units(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)),
                           nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)))
    with pytest.raises(ValueError, match="one permutation per hidden layer"):
        permute_hidden_units(a, [torch.arange(5)])
    with pytest.raises(ValueError, match="permutation of 0..4"):
        permute_hidden_units(a, [torch.tensor([0, 0, 1, 2, 3]), torch.arange(3)])
    with pytest.raises(ValueError, match="differ in shape"):
        parameter_distance(a, mlp(4, [5, 4], 2))
