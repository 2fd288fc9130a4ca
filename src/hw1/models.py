"""Model builders (MLP, CNN), parameter counting, and parameter-count matching.

The homework compares networks of different depth with the *same* number of parameters.
:func:`mlp_with_params` and :func:`cnn_with_params` solve for the widths: all hidden layers
share one width ``w`` except the last, whose width ``v`` enters the count linearly, so for
every ``w`` the best ``v`` is a rounding away. Among the ``(w, v)`` pairs within tolerance
the most uniform one (``v`` closest to ``w``) wins.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from torch import nn

DEFAULT_TOLERANCE = 0.01


def count_params(model: nn.Module) -> int:
    """Number of scalar parameters in ``model`` (trainable or not; buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


def _check_widths(widths: Sequence[int], what: str) -> None:
    if len(widths) == 0:
        raise ValueError(f"{what} needs at least one hidden layer (depth >= 1)")
    bad = [w for w in widths if not isinstance(w, int) or isinstance(w, bool) or w <= 0]
    if bad:
        raise ValueError(f"{what} widths must be positive integers, got {list(widths)}")


ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def mlp(in_features: int, widths: Sequence[int], out_features: int,
        activation: str = "relu") -> nn.Sequential:
    """A fully connected network (ReLU unless ``activation`` says otherwise).

    Args:
        in_features: input size; inputs of shape ``(N, *)`` are flattened to ``(N, in_features)``.
        widths: hidden layer widths, one per hidden layer (depth = ``len(widths)``).
        out_features: output size; the model maps ``(N, *)`` to ``(N, out_features)``.
        activation: ``"relu"`` or ``"tanh"``.
    """
    _check_widths(widths, "mlp")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")
    layers: list[nn.Module] = [nn.Flatten()]
    sizes = [in_features, *widths]
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), ACTIVATIONS[activation]()]
    layers.append(nn.Linear(sizes[-1], out_features))
    return nn.Sequential(*layers)


def image_mlp(input_shape: Sequence[int], widths: Sequence[int], num_classes: int
              ) -> nn.Sequential:
    """An :func:`mlp` classifier for inputs of ``input_shape`` (flattened), e.g. ``(1, 28, 28)``."""
    return mlp(math.prod(input_shape), widths, num_classes)


def mlp_param_count(in_features: int, widths: Sequence[int], out_features: int) -> int:
    """Closed-form parameter count of :func:`mlp` (weights plus biases of every Linear)."""
    sizes = [in_features, *widths, out_features]
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def _pool_plan(size: int, depth: int, pool_to: int) -> list[bool]:
    """Which conv blocks are followed by 2x2 max-pooling (while the map stays >= pool_to)."""
    plan = []
    for _ in range(depth):
        pool = size >= 2 * pool_to
        plan.append(pool)
        size = size // 2 if pool else size
    return plan


def cnn(input_shape: Sequence[int], channels: Sequence[int], num_classes: int,
        pool_to: int = 4) -> nn.Sequential:
    """A plain CNN: ``[conv3x3 -> ReLU -> (maxpool2)] * depth -> avgpool to pool_to² -> linear``.

    Where a block pools, the max-pooling runs before the ReLU. The two commute (ReLU is
    monotone, so ``relu(max(x)) = max(relu(x))``, and the gradient reaches the same input in
    both orders), so the values and gradients are those of conv -> ReLU -> maxpool, bit for
    bit (tested); pooling first applies the ReLU and its backward pass to a quarter of the
    activations: a training step of notebook 02's one-layer CNNs is about a quarter to a third
    faster on a 2-core CPU, the deeper ones gain less.

    Args:
        input_shape: ``(C, H, W)`` of one input (taken from the data, so the same builder serves
            8x8 digits, MNIST and CIFAR-10).
        channels: output channels of each conv layer (depth = ``len(channels)``).
        num_classes: number of logits; the model maps ``(N, C, H, W)`` to ``(N, num_classes)``.
        pool_to: spatial size of the map before the classifier.
    """
    _check_widths(channels, "cnn")
    if len(input_shape) != 3:
        raise ValueError(f"cnn input_shape must be (C, H, W), got {tuple(input_shape)}")
    layers: list[nn.Module] = []
    c_in = input_shape[0]
    for c, pool in zip(channels, _pool_plan(min(input_shape[1:]), len(channels), pool_to),
                       strict=True):
        layers.append(nn.Conv2d(c_in, c, 3, padding=1))
        layers += [nn.MaxPool2d(2), nn.ReLU()] if pool else [nn.ReLU()]
        c_in = c
    layers += [nn.AdaptiveAvgPool2d(pool_to), nn.Flatten(),
               nn.Linear(c_in * pool_to * pool_to, num_classes)]
    return nn.Sequential(*layers)


def cnn_param_count(in_channels: int, channels: Sequence[int], num_classes: int,
                    pool_to: int = 4) -> int:
    """Closed-form parameter count of :func:`cnn`."""
    sizes = [in_channels, *channels]
    conv = sum((9 * a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    return conv + (sizes[-1] * pool_to * pool_to + 1) * num_classes


def _match_widths(target: int, depth: int, count: Callable[[list[int]], int],
                  tolerance: float, what: str) -> list[int]:
    """Widths ``[w]*(depth-1) + [v]`` whose ``count`` is within ``tolerance`` of ``target``."""
    for name, value in (("target", target), ("depth", depth)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{what}: {name} must be a positive integer, got {value!r}")
    smallest = count([1] * depth)
    if target < smallest * (1 - tolerance):
        raise ValueError(
            f"{what}: no model of depth {depth} has {target} parameters; the smallest "
            f"(all widths 1) has {smallest}. Ask for more parameters or less depth.")
    best: tuple[float, float, list[int]] | None = None  # (imbalance, error, widths)
    nearest: tuple[float, int] | None = None
    w_range = range(1, 2) if depth == 1 else range(1, target + 1)
    for w in w_range:
        head = [w] * (depth - 1)
        base = count([*head, 0])
        if depth > 1 and base > target:
            break
        slope = count([*head, 1]) - base
        v = max(1, round((target - base) / slope))
        n = base + slope * v
        err = abs(n - target) / target
        if nearest is None or err < nearest[0]:
            nearest = (err, n)
        if err <= tolerance:
            imbalance = abs(math.log(v / w)) if depth > 1 else 0.0
            if best is None or (imbalance, err) < best[:2]:
                best = (imbalance, err, [*head, v])
    if best is None:
        raise ValueError(
            f"{what}: no model of depth {depth} comes within {tolerance:.0%} of {target} "
            f"parameters; the nearest has {nearest[1]}. Change the target or the depth.")
    return best[2]


def mlp_with_params(target: int, depth: int, in_features: int = 1, out_features: int = 1,
                    tolerance: float = DEFAULT_TOLERANCE) -> nn.Sequential:
    """An MLP with ``depth`` hidden layers and ``target`` parameters (within ``tolerance``).

    Raises:
        ValueError: for a non-positive target or depth, or a target no such MLP can reach.
    """
    widths = _match_widths(
        target, depth, lambda ws: mlp_param_count(in_features, ws, out_features), tolerance,
        "mlp_with_params")
    return mlp(in_features, widths, out_features)


def cnn_with_params(target: int, depth: int, input_shape: Sequence[int], num_classes: int,
                    pool_to: int = 4, tolerance: float = DEFAULT_TOLERANCE) -> nn.Sequential:
    """A CNN with ``depth`` conv layers and ``target`` parameters (within ``tolerance``).

    Raises:
        ValueError: for a non-positive target or depth, or a target no such CNN can reach.
    """
    widths = _match_widths(
        target, depth,
        lambda ws: cnn_param_count(input_shape[0], ws, num_classes, pool_to), tolerance,
        "cnn_with_params")
    return cnn(input_shape, widths, num_classes, pool_to)


def widths_of(model: nn.Sequential) -> list[int]:
    """Hidden widths (MLP) or conv channels (CNN) of a model built here, for labels."""
    convs = [m.out_channels for m in model if isinstance(m, nn.Conv2d)]
    if convs:
        return convs
    return [m.out_features for m in model if isinstance(m, nn.Linear)][:-1]
