"""Helpers shared by the metrics: eval-mode handling and flat-parameter functions."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch.func import functional_call

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the block and restore its previous mode after.

    Raises:
        ValueError: if a BatchNorm layer has never been trained (its running statistics are
            still the defaults, so eval mode would normalize with meaningless numbers).
    """
    for name, m in model.named_modules():
        is_bn = isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
        if is_bn and int(m.num_batches_tracked) == 0:
            raise ValueError(
                f"BatchNorm layer {name!r} has never seen a training batch, so its running "
                "statistics are meaningless in eval mode; train the model first.")
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def flat_loss(model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
              dtype: torch.dtype | None = None
              ) -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor]:
    """The loss as a function of one flat parameter vector.

    Args:
        model: the network (its parameters, in ``parameters()`` order, are flattened).
        loss_fn: ``loss_fn(output, target)`` returning a scalar.
        X, y: the data the loss is taken over.
        dtype: compute in this floating dtype (e.g. float64); default the model's.

    Returns:
        ``(f, theta)``: ``f(theta')`` is the loss at flat parameters ``theta'`` ``(P,)``;
        ``theta`` is the model's current flat parameter vector.
    """
    base = copy.deepcopy(model)
    if dtype is not None:
        base = base.to(dtype)
        X = X.to(dtype) if torch.is_floating_point(X) else X
        y = y.to(dtype) if torch.is_floating_point(y) else y
    names = [n for n, _ in base.named_parameters()]
    shapes = [p.shape for _, p in base.named_parameters()]
    sizes = [p.numel() for _, p in base.named_parameters()]
    buffers = dict(base.named_buffers())
    theta = torch.cat([p.detach().reshape(-1) for p in base.parameters()])

    def f(flat: torch.Tensor) -> torch.Tensor:
        parts = torch.split(flat, sizes)
        params = {n: t.view(s) for n, t, s in zip(names, parts, shapes, strict=True)}
        return loss_fn(functional_call(base, {**params, **buffers}, (X,)), y)

    return f, theta
