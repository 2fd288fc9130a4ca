"""Weight matching of two MLPs: permute one network's hidden units to line up with another's.

The hidden units of an MLP can be permuted without changing the function it computes: for a
permutation ``p`` of hidden layer ``l`` (new unit ``i`` is old unit ``p[i]``), the rows of
layer ``l``'s weight and bias and the columns of layer ``l + 1``'s weight are permuted alike.
Weight matching (Ainsworth et al., 2023, "Git Re-Basin") picks, for two networks a and b of
the same architecture, the permutations of b that maximise

    sum over layers l of <W_a^l, P_l W_b^l P_{l-1}^T> + <b_a^l, P_l b_b^l>

(``P_{-1}`` and the output layer's ``P`` are identities), i.e. bring b's weights closest to
a's in L2. With every other layer's permutation fixed, one layer's is a linear assignment
problem (``scipy.optimize.linear_sum_assignment``); :func:`match_hidden_units` solves the
layers in a fixed order (first to last) and repeats until no permutation changes, which
needs no random draws. With one hidden layer the single assignment is the exact optimum.

Models are MLPs as :func:`hw1.models.mlp` and :func:`hw1.models.image_mlp` build them: an
``nn.Sequential`` of an optional ``Flatten``, then ``Linear``, elementwise activation, ...,
``Linear``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.LeakyReLU, nn.GELU, nn.Sigmoid, nn.ELU, nn.SiLU,
               nn.Softplus, nn.Identity)
"""Activations that act on each unit alone, so permuting units commutes with them."""


def mlp_linears(model: nn.Module) -> list[nn.Linear]:
    """The ``Linear`` layers of an MLP ``nn.Sequential`` (optional ``Flatten``, then ``Linear``,
    activation, ..., ``Linear``), in order; a clear error for anything else.

    Args:
        model: the network.

    Returns:
        the ``K + 1`` linear layers of a network with ``K >= 1`` hidden layers.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"weight matching needs an MLP built as nn.Sequential (hw1.models.mlp), "
                        f"got {type(model).__name__}")
    layers = list(model)
    if layers and isinstance(layers[0], nn.Flatten):
        layers = layers[1:]
    linears: list[nn.Linear] = []
    for position, layer in enumerate(layers):
        expect_linear = position % 2 == 0
        if expect_linear and isinstance(layer, nn.Linear):
            linears.append(layer)
        elif not expect_linear and isinstance(layer, ELEMENTWISE):
            continue
        else:
            want = "Linear" if expect_linear else "an elementwise activation"
            raise TypeError(f"not an MLP: expected {want} at position {position} after the "
                            f"optional Flatten, got {type(layer).__name__}; weight matching "
                            f"needs Linear, activation, ..., Linear")
    if len(layers) % 2 == 0 or len(linears) < 2:
        raise TypeError(f"not an MLP with at least one hidden layer ending in a Linear: "
                        f"{[type(m).__name__ for m in model]}")
    for first, second in zip(linears[:-1], linears[1:], strict=True):
        if first.bias is None or second.in_features != first.out_features:
            raise TypeError("weight matching needs Linear layers with biases whose sizes chain")
    return linears


def _check_same_architecture(a: list[nn.Linear], b: list[nn.Linear]) -> None:
    shapes_a = [tuple(layer.weight.shape) for layer in a]
    shapes_b = [tuple(layer.weight.shape) for layer in b]
    if shapes_a != shapes_b:
        raise ValueError(f"the two MLPs differ in layer sizes: weights {shapes_a} and "
                         f"{shapes_b}; weight matching needs the same widths")


def _weights(linears: list[nn.Linear]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    weights = [layer.weight.detach().cpu().double().numpy() for layer in linears]
    biases = [layer.bias.detach().cpu().double().numpy() for layer in linears]
    return weights, biases


def match_hidden_units(model_a: nn.Module, model_b: nn.Module, max_iter: int = 100
                       ) -> list[torch.Tensor]:
    """Permutations of ``model_b``'s hidden units that bring its weights closest to ``model_a``'s.

    Coordinate ascent over layers (first to last, repeated) of the weight-matching objective
    in the module docstring, each step an exact linear assignment; a layer's permutation
    changes only when that strictly raises the objective, so the loop ends, at the latest
    after ``max_iter`` passes. Deterministic: no random draws.

    Args:
        model_a: the reference MLP.
        model_b: an MLP of the same layer sizes.
        max_iter: the most passes over the layers.

    Returns:
        one ``LongTensor`` per hidden layer, ``(width_l,)``: ``perm[i]`` is the unit of b
        that becomes unit ``i`` (apply with :func:`permute_hidden_units`).
    """
    if isinstance(max_iter, bool) or int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive whole number, got {max_iter}")
    linears_a, linears_b = mlp_linears(model_a), mlp_linears(model_b)
    _check_same_architecture(linears_a, linears_b)
    wa, ba = _weights(linears_a)
    wb, bb = _weights(linears_b)
    hidden = len(wa) - 1
    perms = [np.arange(w.shape[0]) for w in wa[:-1]]
    for _ in range(int(max_iter)):
        changed = False
        for layer in range(hidden):
            w_in = wb[layer] if layer == 0 else wb[layer][:, perms[layer - 1]]
            w_out = wb[layer + 1] if layer + 1 == hidden else wb[layer + 1][perms[layer + 1]]
            # score[i, j]: how well b's unit j matches a's unit i, incoming and outgoing
            score = (wa[layer] @ w_in.T + np.outer(ba[layer], bb[layer])
                     + wa[layer + 1].T @ w_out)
            _, best = linear_sum_assignment(score, maximize=True)
            rows = np.arange(len(best))
            gain = score[rows, best].sum() - score[rows, perms[layer]].sum()
            if gain > 1e-12 * max(1.0, abs(score[rows, perms[layer]].sum())):
                perms[layer] = best
                changed = True
        if not changed:
            break
    return [torch.as_tensor(p, dtype=torch.long) for p in perms]


def permute_hidden_units(model: nn.Module, perms: Sequence[torch.Tensor]) -> nn.Sequential:
    """A deep copy of ``model`` with its hidden units permuted: the same function.

    Args:
        model: an MLP (see :func:`mlp_linears`).
        perms: one permutation per hidden layer, ``(width_l,)`` integers: new unit ``i`` is
            old unit ``perms[l][i]`` (rows of layer ``l``'s weight and bias, columns of layer
            ``l + 1``'s weight).

    Returns:
        the permuted copy; ``model`` is left unchanged.
    """
    linears = mlp_linears(model)
    if len(perms) != len(linears) - 1:
        raise ValueError(f"need one permutation per hidden layer ({len(linears) - 1}), got "
                         f"{len(perms)}")
    index = []
    for layer, perm in enumerate(perms):
        perm = torch.as_tensor(perm).long().cpu()
        width = linears[layer].out_features
        if perm.shape != (width,) or not torch.equal(perm.sort().values, torch.arange(width)):
            raise ValueError(f"perms[{layer}] must be a permutation of 0..{width - 1}, got "
                             f"{perm.tolist()}")
        index.append(perm)
    copied = copy.deepcopy(model)
    new = mlp_linears(copied)
    with torch.no_grad():
        for layer, perm in enumerate(index):
            p = perm.to(new[layer].weight.device)
            new[layer].weight.copy_(new[layer].weight[p])
            new[layer].bias.copy_(new[layer].bias[p])
            new[layer + 1].weight.copy_(new[layer + 1].weight[:, p])
    return copied


def parameter_distance(model_a: nn.Module, model_b: nn.Module) -> float:
    """L2 distance between all parameters of two models of the same architecture,
    ``sqrt(sum over parameters of ||θ_a - θ_b||²)``."""
    params_a, params_b = list(model_a.parameters()), list(model_b.parameters())
    shapes_a = [tuple(p.shape) for p in params_a]
    shapes_b = [tuple(p.shape) for p in params_b]
    if shapes_a != shapes_b:
        raise ValueError(f"the models' parameters differ in shape: {shapes_a} and {shapes_b}")
    total = sum(float(((a.detach().double() - b.detach().double().to(a.device)) ** 2).sum())
                for a, b in zip(params_a, params_b, strict=True))
    return float(np.sqrt(total))
