"""Linear interpolation between two models (HW1-3 "flatness part 1")."""

from __future__ import annotations

import copy

import torch
from torch import nn


def interpolate(model_a: nn.Module, model_b: nn.Module, alpha: float) -> nn.Module:
    """A new model with θ = (1 − α)·θa + α·θb for every parameter and floating-point buffer.

    BatchNorm running statistics are interpolated too; integer buffers (such as
    ``num_batches_tracked``) are taken from ``model_a``. Neither input changes. ``alpha``
    outside [0, 1] extrapolates.

    Raises:
        ValueError: if the two models differ in architecture (names, shapes or layer types).
    """
    layers_a = [type(m).__name__ for m in model_a.modules()]
    layers_b = [type(m).__name__ for m in model_b.modules()]
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    shapes_a = {k: tuple(v.shape) for k, v in state_a.items()}
    shapes_b = {k: tuple(v.shape) for k, v in state_b.items()}
    if layers_a != layers_b or shapes_a != shapes_b:
        diff = sorted(set(shapes_a.items()) ^ set(shapes_b.items()))[:3]
        raise ValueError(
            "cannot interpolate between models of different architecture"
            + (f": differing entries {diff}" if diff else
               f": layer types {layers_a} vs {layers_b}"))
    out = copy.deepcopy(model_a)
    mixed = {}
    for key, a in state_a.items():
        b = state_b[key]
        mixed[key] = torch.lerp(a, b.to(a.dtype), float(alpha)) if a.is_floating_point() else a
    out.load_state_dict(mixed)
    return out
