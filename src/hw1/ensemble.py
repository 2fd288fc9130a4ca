"""Many copies of one architecture trained at once (a stacked ensemble).

The R copies' parameters live in one buffer of shape ``(R, P)``: row r holds model r's
parameters flattened in ``parameters()`` order, and every stacked parameter ``(R, *shape)`` is a
view into it. A step evaluates all R models on their own mini-batches, writes each model's
gradient into a gradient buffer of the same layout, and updates the whole buffer with
:class:`StackedOptimizer`, each model at its own learning rate.

Two ways of evaluating the stack:

- MLPs (an ``nn.Sequential`` of an optional ``Flatten``, then ``Linear`` layers with ``ReLU``
  or ``Tanh`` between them, as :func:`hw1.models.mlp` builds them) run as batched matrix
  products over the model axis (``torch.baddbmm``), and their backward pass is written out
  (``bmm`` into views of the gradient buffer): no ``vmap`` dispatch and no autograd graph.
- Anything else (CNNs) runs as ``vmap`` over ``functional_call``, with autograd.

The summed loss has, for each copy, exactly that copy's own gradient, and Adam and SGD act
elementwise, so training the stack equals R separate runs (each with its own seed-driven batch
order) up to the order of floating-point operations: the hand-written backward pass and the
fused Adam kernel round differently from autograd and ``torch.optim.Adam``'s loop (see
``tests/test_training.py`` for the stated tolerances).

Trained ``until`` a :class:`hw1.training.Criterion`, a copy that meets it is frozen: the
optimizer no longer updates its row, so its parameters stay bit-identical while the others
continue.

A non-finite loss is looked for without stopping the step loop for it: every step's per-model
losses go to a small log on the device, which is checked every :data:`CHECK_EVERY` steps and
before every evaluation; the error still names the models, epoch and step that diverged.
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
    OPTIMIZERS,
    Criterion,
    History,
    check_criterion,
    cosine_factor,
    epoch_numbers,
    loss_function,
)

#: steps between two looks at the logged losses (a host synchronization each)
CHECK_EVERY = 256

_ACTIVATIONS = {nn.ReLU: "relu", nn.Tanh: "tanh"}

#: below this batch size, weight gradients go through a contiguous buffer (measured: at batch
#: 16, ``bmm`` straight into the strided gradient view took 2.6x as long; from 64 on, the
#: direct write is as fast or faster)
_SMALL_BATCH = 32


class _StackedMLP:
    """The layer plan of a stacked MLP and its forward and backward passes.

    Args:
        flatten: whether the model starts with ``nn.Flatten`` (inputs ``(N, *)`` are flattened).
        layers: per ``Linear`` layer ``(weight offset, bias offset, in features, out features)``,
            offsets into a row of the ``(R, P)`` buffer.
        activations: ``"relu"`` or ``"tanh"`` after each layer but the last.
    """

    def __init__(self, flatten: bool, layers: list[tuple[int, int, int, int]],
                 activations: list[str]):
        self.flatten = flatten
        self.layers = layers
        self.activations = activations
        self.in_features = layers[0][2]
        self._minus_cache: dict[tuple, torch.Tensor] = {}  # and scratch buffers

    @classmethod
    def of(cls, base: nn.Module, offsets: dict[str, int]) -> _StackedMLP | None:
        """The plan of ``base``, or None when it is not a plain MLP (then ``vmap`` is used)."""
        if type(base) is not nn.Sequential:
            return None
        mods = list(base.named_children())
        flatten = bool(mods) and type(mods[0][1]) is nn.Flatten
        if flatten:
            f = mods[0][1]
            if f.start_dim != 1 or f.end_dim != -1:
                return None
            mods = mods[1:]
        if len(mods) % 2 == 0:
            return None
        layers, acts = [], []
        for i, (name, m) in enumerate(mods):
            if i % 2 == 0:
                if type(m) is not nn.Linear or m.bias is None:
                    return None
                layers.append((offsets[f"{name}.weight"], offsets[f"{name}.bias"],
                               m.in_features, m.out_features))
            elif type(m) in _ACTIVATIONS:
                acts.append(_ACTIVATIONS[type(m)])
            else:
                return None
        return cls(flatten, layers, acts)

    def _scratch(self, shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
        """A cached contiguous buffer of ``shape``."""
        key = ("scratch", tuple(shape), like.dtype, like.device)
        cached = self._minus_cache.get(key)
        if cached is None:
            cached = torch.empty(shape, dtype=like.dtype, device=like.device)
            self._minus_cache[key] = cached
        return cached

    def _minus(self, shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
        """A cached tensor of ``shape`` filled with ``-1 / shape[1]`` (``-1/B``)."""
        key = (tuple(shape), like.dtype, like.device)
        cached = self._minus_cache.get(key)
        if cached is None:
            cached = torch.full(shape, -1.0 / shape[1], dtype=like.dtype, device=like.device)
            self._minus_cache[key] = cached
        return cached

    def views(self, flat: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer ``(W, b)``: views ``(R, out, in)`` and ``(R, out)`` of ``flat`` ``(R, P)``."""
        r = flat.shape[0]
        return [(flat[:, w:w + o * i].view(r, o, i), flat[:, b:b + o])
                for w, b, i, o in self.layers]

    def inputs(self, x: torch.Tensor) -> torch.Tensor | None:
        """``x`` ``(N, *)`` as the first layer's ``(N, in)``, or None if this plan cannot run it."""
        if self.flatten:
            x = x.reshape(len(x), -1)
        return x if x.dim() == 2 and x.shape[1] == self.in_features else None

    def forward(self, views: list[tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor,
                keep: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Outputs ``(R, N, K)`` of all models on ``x``: ``(R, N, in)`` (one batch per model)
        or ``(N, in)`` (shared). ``keep`` collects each layer's input (for the backward pass).
        """
        r = views[0][0].shape[0]
        a = x if x.dim() == 3 else x.expand(r, *x.shape)
        last = len(views) - 1
        for layer, (W, b) in enumerate(views):
            if keep is not None:
                keep.append(a)
            a = torch.baddbmm(b.unsqueeze(1), a, W.transpose(1, 2))
            if layer < last:
                a = a.relu_() if self.activations[layer] == "relu" else a.tanh_()
        return a

    def loss_and_grad(self, views: list[tuple[torch.Tensor, torch.Tensor]],
                      grad_views: list[tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor,
                      y: torch.Tensor, loss: str, out: torch.Tensor) -> None:
        """Each model's gradient of its own batch-mean loss, into ``grad_views``.

        Args:
            views, grad_views: :meth:`views` of the parameter and gradient buffers.
            x: inputs ``(R, B, in)``, one batch per model.
            y: class labels ``(R, B)`` (cross-entropy) or targets ``(R, B, K)`` (MSE).
            loss: ``"cross_entropy"`` or ``"mse"``.
            out: ``(R,)``, receives a finite multiple of each model's loss (its mean
                log-likelihood for cross-entropy, its loss for MSE): finite exactly when the
                loss is.
        """
        acts: list[torch.Tensor] = []
        z = self.forward(views, x, keep=acts)  # (R, B, K)
        batch = z.shape[1]
        if loss == "cross_entropy":
            ls = torch.log_softmax(z, 2)
            target = y.unsqueeze(2)  # (R, B, 1)
            torch.mean(ls.gather(2, target).squeeze(2), 1, out=out)
            dz = ls.exp_().mul_(1.0 / batch)  # d(mean loss)/dz = (softmax - onehot) / B
            dz.scatter_add_(2, target, self._minus(target.shape, z))
        else:
            diff = z - y
            torch.mean(diff.square(), (1, 2), out=out)
            dz = diff.mul_(2.0 / (batch * z.shape[2]))
        for layer in range(len(views) - 1, -1, -1):
            gW, gb = grad_views[layer]
            if batch < _SMALL_BATCH:  # bmm into a strided view loops over models: slower here
                gW.copy_(torch.bmm(dz.transpose(1, 2), acts[layer],
                                   out=self._scratch(gW.shape, gW)))
            else:
                torch.bmm(dz.transpose(1, 2), acts[layer], out=gW)
            torch.sum(dz, 1, out=gb)
            if layer:
                da = torch.bmm(dz, views[layer][0])
                a = acts[layer]
                dz = (torch.ops.aten.threshold_backward(da, a, 0)
                      if self.activations[layer - 1] == "relu"
                      else torch.ops.aten.tanh_backward(da, a))


class Ensemble:
    """R models of one architecture with stacked parameters.

    Attributes:
        flat: ``(R, P)``, row r holds model r's parameters in ``parameters()`` order; updated
            in place by training.
        size: R.

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
        self.size = len(models)
        self._shapes = {k: tuple(v.shape[1:]) for k, v in params.items()}
        self._offsets, start = {}, 0
        for k, shape in self._shapes.items():
            self._offsets[k] = start
            start += math.prod(shape)
        self.flat = torch.cat([v.detach().reshape(self.size, -1) for v in params.values()], 1)
        self.base = copy.deepcopy(models[0]).to("meta")
        self._mlp = _StackedMLP.of(self.base, self._offsets)
        self._refresh()

    def _refresh(self) -> None:
        self._mlp_views = self._mlp.views(self.flat) if self._mlp is not None else None

    def param_views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each stacked parameter ``(R, *shape)`` as a view of ``flat`` ``(R, P)``."""
        return {k: flat[:, o:o + math.prod(s)].view(self.size, *s)
                for (k, s), o in zip(self._shapes.items(), self._offsets.values(), strict=True)}

    @property
    def params(self) -> dict[str, torch.Tensor]:
        """Each stacked parameter ``(R, *shape)`` by name, as a view of :attr:`flat`."""
        return self.param_views(self.flat)

    def _call(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.base, params, (x,))

    def forward_shared(self, x: torch.Tensor) -> torch.Tensor:
        """All models on the same inputs ``(N, ...)``: outputs ``(R, N, K)`` (no gradient)."""
        xin = self._mlp.inputs(x) if self._mlp is not None else None
        if xin is not None:
            return self._mlp.forward(self._mlp_views, xin)
        return vmap(self._call, in_dims=(0, None))(self.params, x)

    def forward_each(self, x: torch.Tensor) -> torch.Tensor:
        """Model r on inputs ``x[r]``; ``x`` is ``(R, N, ...)``, outputs ``(R, N, K)``."""
        xin = (self._mlp.inputs(x.reshape(-1, *x.shape[2:])) if self._mlp is not None
               else None)
        if xin is not None:
            return self._mlp.forward(self._mlp_views, xin.view(*x.shape[:2], -1))
        return vmap(self._call, in_dims=(0, 0))(self.params, x)

    def flat_params(self) -> torch.Tensor:
        """A copy of each model's parameters flattened in ``parameters()`` order: ``(R, P)``."""
        return self.flat.detach().clone()

    def to(self, dev: torch.device) -> Ensemble:
        self.flat = self.flat.detach().to(dev)
        self._refresh()
        return self

    def models(self) -> list[nn.Module]:
        """Unstack into R ordinary modules (copies; on the CPU)."""
        out = []
        params = self.params
        for r in range(self.size):
            m = copy.deepcopy(self.base).to_empty(device="cpu")
            with torch.no_grad():
                for name, p in m.named_parameters():
                    p.copy_(params[name][r].detach().cpu())
            out.append(m.eval())
        return out


class StackedOptimizer:
    """Adam or SGD with momentum over a stacked ``(R, P)`` parameter buffer, one learning rate
    per row, updating only the rows asked for.

    Row r follows ``torch.optim.Adam(lr=lrs[r])`` (defaults: betas (0.9, 0.999), eps 1e-8) or
    ``torch.optim.SGD(lr=lrs[r], momentum=0.9)`` on model r's parameters, where ``lrs`` may
    change from step to step (a schedule). Rows left out of a step stay bit-identical.

    Adam uses torch's fused kernel (``torch._fused_adam_``, one pass over parameters,
    gradients and both moments), called once per distinct learning rate among the rows
    updated (once for a shared rate); ``impl="flat"`` instead runs torch's for-loop Adam
    arithmetic as whole-buffer operations with an ``(R, 1)`` column of step sizes. SGD is
    three whole-buffer operations.

    Args:
        name: ``"adam"`` or ``"sgd"``.
        params: the parameter buffer ``(R, P)`` (contiguous), updated in place.
        momentum: SGD momentum.
        impl: ``"fused"`` (default where torch has the kernel) or ``"flat"`` (Adam only).
    """

    def __init__(self, name: str, params: torch.Tensor, momentum: float = 0.9,
                 impl: str | None = None):
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
        if impl is None:
            impl = "fused" if hasattr(torch, "_fused_adam_") else "flat"
        if impl not in ("fused", "flat"):
            raise ValueError(f"unknown impl {impl!r}; use 'fused' or 'flat'")
        if not params.is_contiguous() or params.dim() != 2:
            raise ValueError("params must be one contiguous (R, P) buffer")
        self.name, self.params, self.momentum, self.impl = name, params, momentum, impl
        self.betas, self.eps = (0.9, 0.999), 1e-8
        self.steps = 0
        if name == "adam":
            self.exp_avg = torch.zeros_like(params)
            self.exp_avg_sq = torch.zeros_like(params)
            self._step = torch.zeros((), dtype=torch.float32, device=params.device)
        else:
            self.momentum_buffer = torch.zeros_like(params)

    def step(self, grad: torch.Tensor, lrs: Sequence[float],
             rows: Sequence[int] | None = None) -> None:
        """One update.

        Args:
            grad: gradients ``(R, P)``.
            lrs: R learning rates (python floats), ``lrs[r]`` for row r at this step.
            rows: the rows to update (sorted); None: all of them.
        """
        self.steps += 1
        if rows is not None and len(rows) == self.params.shape[0]:
            rows = None
        with torch.no_grad():
            if self.name == "adam":
                self._adam(grad, lrs, rows)
            else:
                self._sgd(grad, lrs, rows)

    def _runs(self, lrs: Sequence[float], rows: Sequence[int] | None
              ) -> dict[float, list[slice]]:
        """The rows to update as runs of consecutive rows, grouped by learning rate."""
        rows = range(len(lrs)) if rows is None else rows
        groups: dict[float, list[slice]] = {}
        start = prev = None
        for r in rows:
            if start is not None and r == prev + 1 and lrs[r] == lrs[start]:
                prev = r
                continue
            if start is not None:
                groups.setdefault(lrs[start], []).append(slice(start, prev + 1))
            start = prev = r
        if start is not None:
            groups.setdefault(lrs[start], []).append(slice(start, prev + 1))
        return groups

    def _adam(self, grad: torch.Tensor, lrs: Sequence[float], rows: Sequence[int] | None
              ) -> None:
        beta1, beta2 = self.betas
        if self.impl == "fused":
            self._step.fill_(self.steps)
            p, g, m, v = self.params, grad, self.exp_avg, self.exp_avg_sq
            if rows is None and all(lr == lrs[0] for lr in lrs):  # one call, whole buffers
                torch._fused_adam_([p], [g], [m], [v], [], [self._step], lr=lrs[0],
                                   beta1=beta1, beta2=beta2, weight_decay=0.0, eps=self.eps,
                                   amsgrad=False, maximize=False)
                return
            for lr, runs in self._runs(lrs, rows).items():
                torch._fused_adam_([p[s] for s in runs], [g[s] for s in runs],
                                   [m[s] for s in runs], [v[s] for s in runs], [],
                                   [self._step] * len(runs), lr=lr, beta1=beta1, beta2=beta2,
                                   weight_decay=0.0, eps=self.eps, amsgrad=False,
                                   maximize=False)
            return
        # torch.optim.Adam's single-tensor arithmetic, per-row step sizes as a column
        frozen = self._frozen(rows)
        keep = self.params.index_select(0, frozen) if frozen is not None else None
        m, v = self.exp_avg, self.exp_avg_sq
        m.lerp_(grad, 1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction1 = 1 - beta1 ** self.steps
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** self.steps)
        denom = v.sqrt().div_(bias_correction2_sqrt).add_(self.eps)
        if len(set(lrs)) == 1:
            self.params.addcdiv_(m, denom, value=-lrs[0] / bias_correction1)
        else:
            step_size = torch.tensor([-lr / bias_correction1 for lr in lrs],
                                     dtype=self.params.dtype, device=self.params.device)
            self.params.addcdiv_(m * step_size.unsqueeze(1), denom)
        if keep is not None:
            self.params.index_copy_(0, frozen, keep)

    def _sgd(self, grad: torch.Tensor, lrs: Sequence[float], rows: Sequence[int] | None
             ) -> None:
        frozen = self._frozen(rows)
        keep = self.params.index_select(0, frozen) if frozen is not None else None
        buf = self.momentum_buffer
        if self.steps == 1:
            buf.copy_(grad)
        else:
            buf.mul_(self.momentum).add_(grad)
        if len(set(lrs)) == 1:
            self.params.add_(buf, alpha=-lrs[0])
        else:
            neg = torch.tensor([-lr for lr in lrs], dtype=self.params.dtype,
                               device=self.params.device)
            self.params.addcmul_(buf, neg.unsqueeze(1))
        if keep is not None:
            self.params.index_copy_(0, frozen, keep)

    def _frozen(self, rows: Sequence[int] | None) -> torch.Tensor | None:
        """Indices ``(F,)`` of the rows left out (cached), or None for all rows updated."""
        if rows is None:
            return None
        key = tuple(rows)
        if getattr(self, "_frozen_key", None) != key:
            left = sorted(set(range(self.params.shape[0])) - set(rows))
            self._frozen_key = key
            self._frozen_idx = torch.tensor(left, dtype=torch.long, device=self.params.device)
        return self._frozen_idx


def _learning_rates(lr: float | Sequence[float], size: int, schedule: str, epochs: int | None,
                    until: Criterion | None, epochs_steps: int) -> Callable[[int], list[float]]:
    """``step -> R`` learning rates (python floats), the schedule applied."""
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"unknown schedule {schedule!r}; use 'constant' or 'cosine'")
    per_model = not isinstance(lr, (int, float))
    base = [float(v) for v in lr] if per_model else [float(lr)] * size
    if len(base) != size:
        raise ValueError(f"need one learning rate per model: {size} models, {len(base)} rates")
    if not all(math.isfinite(v) and v > 0 for v in base):
        raise ValueError(f"learning rates must be positive and finite, got {base}")
    if schedule == "constant":
        return lambda step: base
    total = until.max_steps if until is not None else epochs * epochs_steps
    return lambda step: [b * cosine_factor(step, total) for b in base]


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


def _per_model_loss(loss_fn: Callable, out: torch.Tensor, y: torch.Tensor, own: bool
                    ) -> torch.Tensor:
    """Each model's batch-mean loss ``(R,)`` from outputs ``(R, N, K)`` and targets ``y``
    (shared ``(N,)``/``(N, K)``, or ``(R, N)`` when ``own``)."""
    if loss_fn is nn.functional.cross_entropy:
        target = y if own else y.expand(out.shape[0], -1)
        return -torch.log_softmax(out, 2).gather(2, target.unsqueeze(2)).squeeze(2).mean(1)
    if loss_fn is nn.functional.mse_loss and not own and y.dim() == 2:
        return (out - y).square().mean((1, 2))
    return vmap(loss_fn, in_dims=(0, 0 if own else None))(out, y)


def evaluate_ensemble(ens: Ensemble, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor,
                      chunk: int = 2048, correct_out: torch.Tensor | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-model mean loss and accuracy: two ``(R,)`` tensors (acc NaN for MSE).

    ``x`` ``(N, ...)`` is shared; ``y`` is shared (``(N,)`` or ``(N, K)``) or holds one row of
    class labels per model (``(R, N)``, e.g. each model's own corrupted labels). Runs under
    ``torch.inference_mode`` in chunks of ``chunk`` inputs. ``correct_out``, an ``(R, N)``
    bool tensor on ``x``'s device (class labels only), is filled with whether each model
    classifies each input correctly.
    """
    own = labels_per_model(y, ens.size, len(x))
    classify = not torch.is_floating_point(y)
    if correct_out is not None and (not classify or correct_out.shape != (ens.size, len(x))
                                    or correct_out.dtype != torch.bool):
        raise ValueError(f"correct_out must be an (R, N) = ({ens.size}, {len(x)}) bool tensor "
                         f"and the labels class labels; got {tuple(correct_out.shape)} "
                         f"{correct_out.dtype}, labels {y.dtype}")
    with torch.inference_mode():
        total = torch.zeros(ens.size, dtype=torch.float64, device=x.device)
        correct = torch.zeros(ens.size, dtype=torch.float64, device=x.device)
        for start in range(0, len(x), chunk):
            xb = x[start:start + chunk]
            yb = y[:, start:start + chunk] if own else y[start:start + chunk]
            out = ens.forward_shared(xb)
            total += _per_model_loss(loss_fn, out, yb, own).double() * len(xb)
            if classify:
                hit = out.argmax(-1) == yb  # (R, chunk)
                correct += hit.sum(1).double()
                if correct_out is not None:
                    correct_out[:, start:start + chunk] = hit
        acc = (correct / len(x)).cpu() if classify else torch.full((ens.size,), math.nan)
        return (total / len(x)).cpu(), acc


class EnsembleSteps:
    """The inner loop of :func:`train_ensemble`: one optimizer step of every model per call.

    Args:
        ens: the ensemble (its :attr:`Ensemble.flat` is trained in place).
        x_train, y_train: training data on the ensemble's device; ``y_train`` shared or one row
            of class labels per model (``(R, N)``).
        loss: ``"cross_entropy"`` or ``"mse"``.
        optimizer: ``"adam"`` or ``"sgd"``.
        lrs: ``step -> R`` learning rates.
        lr_label: the learning rate(s) as given, for the error message.
    """

    def __init__(self, ens: Ensemble, x_train: torch.Tensor, y_train: torch.Tensor, *,
                 loss: str, optimizer: str, lrs: Callable[[int], list[float]],
                 lr_label: object = None):
        self.ens, self.loss, self.lrs, self.lr_label = ens, loss, lrs, lr_label
        self.loss_fn = loss_function(loss)
        self.opt = StackedOptimizer(optimizer, ens.flat)
        self.own = labels_per_model(y_train, ens.size, len(x_train))
        self.y = y_train
        self.steps = 0
        self.rows: list[int] | None = None  # rows still training (None: all)
        self.frozen = torch.zeros(ens.size, dtype=torch.bool, device=ens.flat.device)
        self._log = torch.zeros(CHECK_EVERY, ens.size, dtype=ens.flat.dtype,
                                device=ens.flat.device)
        self._where: list[tuple[int, int]] = []  # (epoch, step) of each logged row
        mlp = ens._mlp
        xin = mlp.inputs(x_train) if mlp is not None else None
        if xin is not None:
            self._x = xin.contiguous()
            self._grad = torch.zeros_like(ens.flat)
            self._grad_views = mlp.views(self._grad)
        else:
            self._x, self._grad, self._grad_views = x_train, None, None
            self._per_model_loss = vmap(lambda p, xb, yb: self.loss_fn(ens._call(p, xb), yb))

    def freeze(self, models: Sequence[int]) -> None:
        """Stop updating these models (their parameters stay bit-identical from now on)."""
        self.frozen[list(models)] = True
        self.rows = [r for r in range(self.ens.size) if not self.frozen[r]]

    def step(self, idx: torch.Tensor, epoch: int, step: int) -> None:
        """One optimizer step; model r on samples ``idx[r]`` (``idx`` ``(R, B)``).

        ``epoch`` and ``step`` (within the epoch) label the step in a divergence error.
        """
        r, b = idx.shape
        flat_idx = idx.reshape(-1)
        yb = (self.y.gather(1, idx) if self.own
              else self.y.index_select(0, flat_idx).view(r, b, *self.y.shape[1:]))
        slot = self._log[len(self._where)]
        if self._grad is not None:
            xb = self._x.index_select(0, flat_idx).view(r, b, -1)
            self.ens._mlp.loss_and_grad(self.ens._mlp_views, self._grad_views, xb, yb,
                                        self.loss, slot)
            grad = self._grad
        else:
            xb = self._x.index_select(0, flat_idx).view(r, b, *self._x.shape[1:])
            leaf = self.ens.flat.detach().requires_grad_(True)
            losses = self._per_model_loss(self.ens.param_views(leaf), xb, yb)  # (R,)
            losses.sum().backward()
            slot.copy_(losses.detach())
            grad = leaf.grad
        self._where.append((epoch, step))
        self.opt.step(grad, self.lrs(self.steps), self.rows)
        self.steps += 1
        if len(self._where) == len(self._log):
            self.check()

    def check(self) -> None:
        """Raise if a model still training had a non-finite loss at a step logged since the
        last check (a host synchronization).

        Raises:
            FloatingPointError: naming the models, epoch and step of the first such step.
        """
        k = len(self._where)
        if k == 0:
            return
        bad = ~torch.isfinite(self._log[:k]) & ~self.frozen  # (k, R)
        if bool(bad.any()):
            first = int(bad.any(1).nonzero()[0])
            models = torch.nonzero(bad[first]).flatten().tolist()
            epoch, step = self._where[first]
            raise FloatingPointError(
                f"training diverged: loss of model(s) {models} is not finite at epoch {epoch}, "
                f"step {step} (lr={self.lr_label}); lower the learning rate or check the data.")
        self._where.clear()


def train_ensemble(models: Sequence[nn.Module], x_train: torch.Tensor, y_train: torch.Tensor,
                   x_test: torch.Tensor | None = None, y_test: torch.Tensor | None = None, *,
                   epochs: int | None = None, batch_size: int, lr: float | Sequence[float],
                   seeds: Sequence[int], optimizer: str = "adam", loss: str = "cross_entropy",
                   schedule: str = "constant", record_every: int = 1,
                   on_epoch_end: Callable[[int, Ensemble, list[History]], None] | None = None,
                   until: Criterion | None = None,
                   device: torch.device | None = None, desc: str | None = None,
                   on_train_correct: Callable[[int, torch.Tensor], None] | None = None,
                   ) -> tuple[list[History], Ensemble]:
    """Train R models at once; equal to ``train(models[r], ..., seed=seeds[r])`` for each r
    (up to floating-point order).

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
            ``until.max_steps``), handed to the optimizer per model and step.
        record_every: evaluate and record every this many epochs (and after the last one);
            more than 1 only without ``until`` (e.g. many cheap full-batch epochs).
        on_epoch_end: called as ``f(epoch, ensemble, histories)`` after epoch 0 and each epoch.
        until: as for :func:`hw1.training.train`, per model: model r is frozen (its parameters
            stay bit-identical) from the first recorded epoch at which it meets the criterion,
            and its history ends there, with its own ``steps`` and ``reached``. Training ends
            when every model has met it, or at exactly ``until.max_steps`` steps (all models
            still training then stop together, evaluated once more), or after ``epochs``.
            With ``until.check_every``, the criterion is also checked every that many steps
            (a model meeting it there is recorded at that partial epoch and frozen).
        on_train_correct: class labels only; called as ``f(epoch, correct)`` at every whole-
            epoch record with ``correct`` ``(R, N)`` bool, whether each model (frozen ones
            included) classifies each training input as its training label, from the same
            evaluation that records the train accuracy (e.g. accuracy on subsets of the training
            set without a second pass; the tensor is reused, so copy what is kept).

    Returns:
        ``(histories, ensemble)``: one :class:`History` per model, and the trained ensemble.

    Raises:
        FloatingPointError: when any model still training has a NaN or infinite loss (found
            at the next check, every :data:`CHECK_EVERY` steps and before each evaluation;
            the message names the models, epoch and step).
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
    labels_per_model(y_train, len(models), n)
    rates = _learning_rates(lr, len(models), schedule, epochs, until,
                            epochs_steps=math.ceil(n / batch_size))
    ens = Ensemble(models).to(dev)
    x_train, y_train = x_train.to(dev), y_train.to(dev)
    has_test = x_test is not None and y_test is not None
    if has_test:
        x_test, y_test = x_test.to(dev), y_test.to(dev)
    loss_fn = loss_function(loss)
    steps_loop = EnsembleSteps(ens, x_train, y_train, loss=loss, optimizer=optimizer,
                               lrs=rates, lr_label=lr)
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    hists = [History() for _ in models]
    max_steps = until.max_steps if until is not None else None
    active = [True] * ens.size  # models still training (all of them without a criterion)

    correct = (torch.zeros(ens.size, n, dtype=torch.bool, device=dev)
               if on_train_correct is not None else None)

    def record(epoch: int, only: Sequence[int] | None = None) -> None:
        steps_loop.check()  # no evaluation of a diverged model
        tr = evaluate_ensemble(ens, loss_fn, x_train, y_train, correct_out=correct)
        if on_train_correct is not None and only is None:
            on_train_correct(epoch, correct)
        te = (evaluate_ensemble(ens, loss_fn, x_test, y_test) if has_test
              else (torch.full((ens.size,), math.nan),) * 2)
        tr_loss, tr_acc, te_loss, te_acc = (t.tolist() for t in (*tr, *te))
        for r, h in enumerate(hists):
            if not active[r] or (only is not None and r not in only):
                continue
            h.epoch.append(epoch)
            h.train_loss.append(tr_loss[r])
            h.train_acc.append(tr_acc[r])
            h.test_loss.append(te_loss[r])
            h.test_acc.append(te_acc[r])
            h.steps = steps_loop.steps
        if on_epoch_end is not None and only is None:
            on_epoch_end(epoch, ens, hists)

    def freeze_those_meeting_the_criterion() -> None:
        newly = [r for r in range(ens.size) if active[r] and until.met(hists[r])]
        for r in newly:
            active[r] = False
        if newly:
            steps_loop.freeze(newly)

    record(0)
    if until is not None:
        freeze_those_meeting_the_criterion()
    bar = progress(epoch_numbers(epochs), total=epochs, desc=desc or "training ensemble",
                   leave=False)
    for epoch in bar if any(active) else ():
        order = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(dev)  # (R, N)
        for step, start in enumerate(range(0, n, batch_size)):
            steps_loop.step(order[:, start:start + batch_size], epoch, step)
            if max_steps is not None and steps_loop.steps >= max_steps:
                break
            if until is not None and until.due(steps_loop.steps):
                steps_loop.check()
                loss_, acc_ = (t.tolist() for t in evaluate_ensemble(ens, loss_fn, x_train,
                                                                      y_train))
                newly = [r for r in range(ens.size) if active[r]
                         and until.met_by(loss_[r], acc_[r])]
                if newly:  # their histories end here, at this partial epoch
                    record(epoch, only=newly)
                    freeze_those_meeting_the_criterion()
                    if not any(active):
                        break
        if epoch % record_every == 0 or epoch == epochs:
            record(epoch)
        if until is not None:
            freeze_those_meeting_the_criterion()
            if not any(active) or steps_loop.steps >= max_steps:
                break
    steps_loop.check()
    bar.close()
    if until is not None:
        for h in hists:
            h.reached = until.met(h)
    return hists, ens
