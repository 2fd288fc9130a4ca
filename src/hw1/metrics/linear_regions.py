"""Number of linear pieces of a 1-D-input ReLU network (HW1-1, deep vs shallow expressivity).

A ReLU network is piecewise linear, and on each piece every ReLU unit is either on or off
throughout: the *activation pattern* (the on/off state of every unit, all layers) is constant
on a piece. Along a line, the pieces are the runs of points sharing one pattern, so counting
the pattern changes between consecutive points of a sorted grid, plus 1, counts the pieces the
grid can see. Deeper networks can fold the line and reuse earlier kinks, which is why their
count can grow exponentially with depth while a shallow network's grows linearly with width.
"""

from __future__ import annotations

import torch
from torch import nn

from hw1.metrics._common import eval_mode


def _as_grid(x: torch.Tensor) -> torch.Tensor:
    """``x`` of shape ``(N,)`` or ``(N, 1)`` checked and returned as ``(N,)``."""
    x = torch.as_tensor(x)
    if x.dim() == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.dim() != 1:
        raise ValueError(
            f"linear_regions needs a 1-D grid of shape (N,) or (N, 1), got shape "
            f"{tuple(x.shape)}; pass e.g. torch.linspace(-1, 1, 1001).")
    if len(x) < 2:
        raise ValueError(
            f"linear_regions needs at least 2 grid points to see a change, got {len(x)}; "
            "pass a grid such as torch.linspace(-1, 1, 1001).")
    if x.is_floating_point() and not torch.isfinite(x).all():
        raise ValueError("linear_regions: the grid x contains NaN or infinite values; "
                         "pass finite points.")
    if (x[1:] < x[:-1]).any():
        raise ValueError("linear_regions: the grid x must be sorted ascending; "
                         "pass torch.sort(x).values.")
    return x


def _check_model(model: nn.Module) -> list[nn.ReLU]:
    """The model's ReLU modules, after checking it has some and takes 1-D inputs."""
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise ValueError(
            f"linear_regions found no nn.ReLU module in the {type(model).__name__} model; it "
            "records activation patterns with hooks on nn.ReLU modules, so build the network "
            "with nn.ReLU layers (e.g. hw1.models.mlp(1, widths, 1)) rather than F.relu.")
    first = next((m for m in model.modules() if isinstance(m, nn.Linear)), None)
    if first is not None and first.in_features != 1:
        raise ValueError(
            f"linear_regions needs a model with a 1-D input, but its first nn.Linear takes "
            f"{first.in_features} features; build it with in_features=1 "
            "(e.g. hw1.models.mlp(1, widths, 1)).")
    return relus


def linear_regions(model: nn.Module, x: torch.Tensor) -> int:
    """Number of linear pieces of a 1-D-input ReLU network seen on the sorted grid ``x``.

    The count is the number of changes of the activation pattern (the on/off state of every
    ``nn.ReLU`` unit, all layers; a unit is on where its output is > 0) between consecutive
    grid points, plus 1. The patterns are recorded by forward hooks on the model's ``nn.ReLU``
    modules, in one batched forward pass under ``torch.no_grad`` in eval mode; the model's
    training mode is restored afterwards and the model is not changed.

    Grid resolution: a piece narrower than the grid spacing can fall between two grid points
    and be missed (as can two kinks within one grid interval, which then look like one), so
    the count is a lower bound on the number of pieces inside ``[x[0], x[-1]]``. It never
    decreases when grid points are added and converges to the exact count once the spacing is
    below the narrowest piece. Kinks outside ``[x[0], x[-1]]`` are not counted.

    Pieces versus slopes: each counted piece is a distinct linear region, but two adjacent
    regions need not have different slopes. With one hidden layer they share a slope only in
    degenerate cases (the flipping unit has zero output weight, or several units flip at one
    point and their slope changes cancel). With more layers a flip can also be blocked
    downstream: where every unit of a later layer is off the network is constant, and units
    of earlier layers flipping there change the pattern but not the slope. That happens for
    open sets of weights, so the count is of activation regions, which is at least the number
    of pieces of distinct slope.

    Args:
        model: a ReLU network built of ``nn.Linear`` and ``nn.ReLU`` modules (ReLUs applied
            as ``F.relu`` are invisible), mapping ``(N, 1)`` to ``(N, out_features)``, e.g.
            ``hw1.models.mlp(1, widths, 1)``.
        x: grid of shape ``(N,)`` or ``(N, 1)``, ``N >= 2``, sorted ascending; converted to the
            dtype and device of the model's parameters.

    Returns:
        The number of linear pieces seen, ``1 <= count <= N``.

    Raises:
        ValueError: if ``x`` is not of shape ``(N,)`` or ``(N, 1)``, has fewer than 2 points,
            is not finite or not sorted ascending; if the model has no ``nn.ReLU`` module,
            its first ``nn.Linear`` does not take 1 input feature, or it cannot run on
            inputs of shape ``(N, 1)``.
    """
    x = _as_grid(x)
    relus = _check_model(model)
    param = next(model.parameters(), None)
    if param is not None:
        x = x.to(device=param.device, dtype=param.dtype)
    elif not x.is_floating_point():
        x = x.to(torch.get_default_dtype())

    patterns: list[torch.Tensor] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        patterns.append((out > 0).reshape(len(out), -1))

    handles = [m.register_forward_hook(record) for m in relus]
    try:
        with eval_mode(model), torch.no_grad():
            model(x[:, None])
    except RuntimeError as e:
        raise ValueError(
            f"linear_regions could not run the model on inputs of shape ({len(x)}, 1): {e}. "
            "The model must take a 1-D input (in_features=1).") from e
    finally:
        for h in handles:
            h.remove()
    if not patterns:
        raise ValueError(
            "linear_regions: none of the model's nn.ReLU modules ran in its forward pass, so "
            "there is no activation pattern to record; use nn.ReLU layers in forward.")
    pattern = torch.cat(patterns, dim=1)  # (N, total units over all ReLU calls)
    changes = (pattern[1:] != pattern[:-1]).any(dim=1)  # (N - 1,)
    return int(changes.sum()) + 1
