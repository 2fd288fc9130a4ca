"""Many copies of one architecture trained at once (``torch.func`` stacked ensemble).

``stack_module_state`` stacks the copies' parameters along a new leading axis of size R, and
``vmap`` over ``functional_call`` evaluates all R models in one call. The summed loss has, for
each copy, exactly that copy's own gradient, and Adam/SGD act elementwise, so training the
stack equals R separate runs (each with its own seed-driven batch order), only faster.

Trained ``until`` a :class:`hw1.training.Criterion`, a copy that meets it is frozen: its rows
of every parameter are restored after each optimizer step (Adam and SGD with momentum would
otherwise keep moving them through their running moments), so they stay bit-identical while
the others continue.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from hw1.config import device as default_device
from hw1.progress import progress
from hw1.training import (
    Criterion,
    History,
    check_criterion,
    cosine_factor,
    epoch_numbers,
    loss_function,
    make_optimizer,
)


class Ensemble:
    """R models of one architecture with stacked parameters.

    Args:
        models: R models of identical structure and no buffers (no BatchNorm).
    """

    def __init__(self, models: Sequence[nn.Module]):
        if len(models) == 0:
            raise ValueError("an ensemble needs at least one model")
        shapes = [tuple((n, p.shape) for n, p in m.named_parameters()) for m in models]
        if any(s != shapes[0] for s in shapes):
            raise ValueError("ensemble models must share one architecture")
        if any(True for m in models for _ in m.buffers()):
            raise ValueError("ensemble models must have no buffers (BatchNorm is not supported)")
        params, _ = stack_module_state(list(models))
        self.params: dict[str, torch.Tensor] = {k: v.detach().clone().requires_grad_(True)
                                                for k, v in params.items()}
        self.base = copy.deepcopy(models[0]).to("meta")
        self.size = len(models)

    def _call(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.base, params, (x,))

    def forward_shared(self, x: torch.Tensor) -> torch.Tensor:
        """All models on the same inputs ``(N, ...)``: outputs ``(R, N, K)``."""
        return vmap(self._call, in_dims=(0, None))(self.params, x)

    def forward_each(self, x: torch.Tensor) -> torch.Tensor:
        """Model r on inputs ``x[r]``; ``x`` is ``(R, N, ...)``, outputs ``(R, N, K)``."""
        return vmap(self._call, in_dims=(0, 0))(self.params, x)

    def flat_params(self) -> torch.Tensor:
        """All parameters of each model flattened in ``parameters()`` order: ``(R, P)``."""
        return torch.cat([p.detach().reshape(self.size, -1) for p in self.params.values()], 1)

    def to(self, dev: torch.device) -> Ensemble:
        self.params = {k: v.detach().to(dev).requires_grad_(True) for k, v in self.params.items()}
        return self

    def models(self) -> list[nn.Module]:
        """Unstack into R ordinary modules (copies; on the CPU)."""
        out = []
        for r in range(self.size):
            m = copy.deepcopy(self.base).to_empty(device="cpu")
            with torch.no_grad():
                for name, p in m.named_parameters():
                    p.copy_(self.params[name][r].detach().cpu())
            out.append(m.eval())
        return out


def _learning_rates(lr: float | Sequence[float], size: int, schedule: str, epochs: int | None,
                    until: Criterion | None, epochs_steps: int, device: torch.device
                    ) -> Callable[[int], torch.Tensor] | None:
    """``step -> (R,)`` learning rates, or None for one constant rate (the optimizer's own)."""
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"unknown schedule {schedule!r}; use 'constant' or 'cosine'")
    per_model = not isinstance(lr, (int, float))
    base = torch.as_tensor(list(lr) if per_model else [lr] * size, dtype=torch.float64)
    if len(base) != size:
        raise ValueError(f"need one learning rate per model: {size} models, {len(base)} rates")
    if not (base > 0).all() or not torch.isfinite(base).all():
        raise ValueError(f"learning rates must be positive and finite, got {base.tolist()}")
    if schedule == "constant" and not per_model:
        return None
    base = base.to(device)
    if schedule == "constant":
        return lambda step: base
    total = until.max_steps if until is not None else epochs * epochs_steps
    return lambda step: base * cosine_factor(step, total)


@torch.no_grad()
def _scaled_step(opt: torch.optim.Optimizer, params: dict[str, torch.Tensor],
                 rates: torch.Tensor) -> None:
    """One optimizer step at unit rate, then model r's update scaled by ``rates[r]``."""
    before = {k: p.detach().clone() for k, p in params.items()}
    opt.step()
    for k, p in params.items():
        scale = rates.to(p.dtype).reshape(-1, *([1] * (p.dim() - 1)))
        p.copy_(torch.addcmul(before[k], scale, p - before[k]))


def labels_per_model(y: torch.Tensor, size: int, n: int) -> bool:
    """Whether ``y`` holds one row of class labels per model, ``(R, N)`` int64, rather than
    labels shared by all models (``(N,)`` class labels or ``(N, K)`` regression targets).

    Raises:
        ValueError: for integer labels of another shape than ``(N,)`` or ``(R, N)``.
    """
    if torch.is_floating_point(y) or y.dim() == 1:
        return False
    if y.shape != (size, n):
        raise ValueError(f"class labels must be (N,) = ({n},) shared by all models or (R, N) = "
                         f"({size}, {n}), one row per model; got {tuple(y.shape)}")
    return True


@torch.no_grad()
def evaluate_ensemble(ens: Ensemble, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor,
                      chunk: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-model mean loss and accuracy: two ``(R,)`` tensors (acc NaN for MSE).

    ``x`` ``(N, ...)`` is shared; ``y`` is shared (``(N,)`` or ``(N, K)``) or holds one row of
    class labels per model (``(R, N)``, e.g. each model's own corrupted labels).
    """
    own = labels_per_model(y, ens.size, len(x))
    per_model = vmap(loss_fn, in_dims=(0, 0 if own else None))
    total = torch.zeros(ens.size, dtype=torch.float64)
    correct = torch.zeros(ens.size, dtype=torch.float64)
    classify = not torch.is_floating_point(y)
    for start in range(0, len(x), chunk):
        xb = x[start:start + chunk]
        yb = y[:, start:start + chunk] if own else y[start:start + chunk]
        out = ens.forward_shared(xb)
        total += per_model(out, yb).double().cpu() * len(xb)
        if classify:
            correct += (out.argmax(-1) == yb).sum(1).double().cpu()
    acc = correct / len(x) if classify else torch.full((ens.size,), math.nan)
    return total / len(x), acc


def train_ensemble(models: Sequence[nn.Module], x_train: torch.Tensor, y_train: torch.Tensor,
                   x_test: torch.Tensor | None = None, y_test: torch.Tensor | None = None, *,
                   epochs: int | None = None, batch_size: int, lr: float | Sequence[float],
                   seeds: Sequence[int], optimizer: str = "adam", loss: str = "cross_entropy",
                   schedule: str = "constant", record_every: int = 1,
                   on_epoch_end: Callable[[int, Ensemble, list[History]], None] | None = None,
                   until: Criterion | None = None,
                   device: torch.device | None = None, desc: str | None = None,
                   ) -> tuple[list[History], Ensemble]:
    """Train R models at once; equal to ``train(models[r], ..., seed=seeds[r])`` for each r.

    Args:
        models: R untrained models of one architecture (their initial weights are used).
        x_train, y_train, x_test, y_test: shared data, as for :func:`hw1.training.train`;
            class labels may instead hold one row per model, ``(R, N)`` (model r trains or is
            evaluated on ``y[r]``, e.g. its own randomly corrupted labels).
        epochs, batch_size, optimizer, loss: as for :func:`hw1.training.train`.
        lr: one learning rate for every model, or R of them (model r uses ``lr[r]``).
        seeds: R seeds; seed r drives model r's batch order.
        schedule: ``"constant"``, or ``"cosine"``: step t of T total steps uses
            ``lr · (1 + cos(π t / T)) / 2`` (T from ``epochs`` and the batch count, or
            ``until.max_steps``). Both optimizers' updates are linear in the learning rate
            (Adam's moments and SGD's momentum buffer do not depend on it), so per-model and
            scheduled rates are applied by scaling each model's update from a unit-rate step.
        record_every: evaluate and record every this many epochs (and after the last one);
            more than 1 only without ``until`` (e.g. many cheap full-batch epochs).
        on_epoch_end: called as ``f(epoch, ensemble, histories)`` after epoch 0 and each epoch.
        until: as for :func:`hw1.training.train`, per model: model r is frozen (its parameters
            stay bit-identical) from the first recorded epoch at which it meets the criterion,
            and its history ends there, with its own ``steps`` and ``reached``. Training ends
            when every model has met it, or at exactly ``until.max_steps`` steps (all models
            still training then stop together, evaluated once more), or after ``epochs``.

    Returns:
        ``(histories, ensemble)``: one :class:`History` per model, and the trained ensemble.

    Raises:
        FloatingPointError: when any model still training has a NaN or infinite loss.
    """
    if len(seeds) != len(models):
        raise ValueError(f"need one seed per model: {len(models)} models, {len(seeds)} seeds")
    check_criterion(until, epochs, y_train)
    if record_every < 1 or (record_every > 1 and until is not None):
        raise ValueError(f"record_every must be >= 1, and 1 when training until a criterion; "
                         f"got {record_every}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    dev = device or default_device()
    n = len(x_train)
    own_labels = labels_per_model(y_train, len(models), n)
    rates = _learning_rates(lr, len(models), schedule, epochs, until,
                            epochs_steps=math.ceil(n / batch_size), device=dev)
    ens = Ensemble(models).to(dev)
    x_train, y_train = x_train.to(dev), y_train.to(dev)
    has_test = x_test is not None and y_test is not None
    if has_test:
        x_test, y_test = x_test.to(dev), y_test.to(dev)
    loss_fn = loss_function(loss)
    opt = make_optimizer(optimizer, list(ens.params.values()), lr if rates is None else 1.0)
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    hists = [History() for _ in models]
    per_model_loss = vmap(lambda p, xb, yb: loss_fn(ens._call(p, xb), yb))
    max_steps = until.max_steps if until is not None else None
    active = [True] * ens.size  # models still training (all of them without a criterion)
    frozen_mask = torch.zeros(ens.size, dtype=torch.bool, device=dev)
    frozen_values: dict[str, torch.Tensor] = {}  # parameters of the frozen models, by name
    steps = 0

    def record(epoch: int) -> None:
        tr = evaluate_ensemble(ens, loss_fn, x_train, y_train)
        te = (evaluate_ensemble(ens, loss_fn, x_test, y_test) if has_test
              else (torch.full((ens.size,), math.nan),) * 2)
        for r, h in enumerate(hists):
            if not active[r]:
                continue
            h.epoch.append(epoch)
            h.train_loss.append(tr[0][r].item())
            h.train_acc.append(tr[1][r].item())
            h.test_loss.append(te[0][r].item())
            h.test_acc.append(te[1][r].item())
            h.steps = steps
        if on_epoch_end is not None:
            on_epoch_end(epoch, ens, hists)

    def freeze_those_meeting_the_criterion() -> None:
        newly = [r for r in range(ens.size) if active[r] and until.met(hists[r])]
        if not newly:
            return
        for r in newly:
            active[r] = False
        frozen_mask[newly] = True
        with torch.no_grad():
            for k, p in ens.params.items():
                frozen_values.setdefault(k, torch.zeros_like(p))[newly] = p[newly]

    record(0)
    if until is not None:
        freeze_those_meeting_the_criterion()
    bar = progress(epoch_numbers(epochs), total=epochs, desc=desc or "training ensemble",
                   leave=False)
    for epoch in bar if any(active) else ():
        order = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(dev)  # (R, N)
        for step, start in enumerate(range(0, n, batch_size)):
            idx = order[:, start:start + batch_size]
            opt.zero_grad(set_to_none=True)
            yb = y_train.gather(1, idx) if own_labels else y_train[idx]
            losses = per_model_loss(ens.params, x_train[idx], yb)  # (R,)
            finite = torch.isfinite(losses)
            if frozen_values:
                finite |= frozen_mask  # a frozen model's loss no longer matters
            if not finite.all():
                bad = torch.nonzero(~finite).flatten().tolist()
                raise FloatingPointError(
                    f"training diverged: loss of model(s) {bad} is not finite at epoch {epoch}, "
                    f"step {step} (lr={lr}); lower the learning rate or check the data.")
            if frozen_values:
                losses[~frozen_mask].sum().backward()  # zero gradient for the frozen models
            else:
                losses.sum().backward()
            if rates is None:
                opt.step()
            else:
                _scaled_step(opt, ens.params, rates(steps))
            if frozen_values:
                with torch.no_grad():  # undo the optimizer's moment-driven drift
                    for k, p in ens.params.items():
                        p[frozen_mask] = frozen_values[k][frozen_mask]
            steps += 1
            if max_steps is not None and steps >= max_steps:
                break
        if epoch % record_every == 0 or epoch == epochs:
            record(epoch)
        if until is not None:
            freeze_those_meeting_the_criterion()
            if not any(active) or steps >= max_steps:
                break
    bar.close()
    if until is not None:
        for h in hists:
            h.reached = until.met(h)
    return hists, ens
