"""In-memory batches, the training loop and its history.

Tensors already in memory are batched by indexing with a permutation drawn from an explicit
``torch.Generator``; no ``DataLoader`` (several times slower on a CPU for this case).
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from hw1.config import device as default_device
from hw1.progress import progress

LOSSES = ("cross_entropy", "mse")
OPTIMIZERS = ("adam", "sgd")


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int,
            generator: torch.Generator | None = None,
            shuffle: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x[idx], y[idx])`` mini-batches over one epoch.

    Args:
        x: inputs ``(N, ...)``.
        y: targets ``(N, ...)``.
        batch_size: samples per batch (the last batch may be smaller).
        generator: drives the shuffle; same generator state, same order.
        shuffle: draw a random permutation (else keep the order).
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    n = len(x)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    order = order.to(x.device)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        yield x[idx], y[idx]


def loss_function(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``"cross_entropy"`` (logits, int labels) or ``"mse"``; returns a batch-mean loss."""
    if name == "cross_entropy":
        return nn.functional.cross_entropy
    if name == "mse":
        return nn.functional.mse_loss
    raise ValueError(f"unknown loss {name!r}; valid: {', '.join(LOSSES)}")


@torch.inference_mode()
def evaluate(model: nn.Module, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor,
             batch_size: int = 128) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``(x, y)`` in eval mode (mode restored after).

    Batches of 128 keep convolution activations in cache: on a 2-core CPU they evaluate a
    small CNN about 3x faster than batches of 2048 (MLPs barely care).

    Returns:
        ``(loss, accuracy)``; accuracy is NaN unless ``y`` holds integer class labels.
    """
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    classify = not torch.is_floating_point(y)
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        out = model(xb)
        total_loss += loss_fn(out, yb).item() * len(xb)
        if classify:
            correct += (out.argmax(1) == yb).sum().item()
    model.train(was_training)
    return total_loss / len(x), (correct / len(x) if classify else math.nan)


@dataclass(frozen=True, kw_only=True)
class Criterion:
    """Train until a stated target on the training set, under a cap on optimizer steps.

    Example: ``Criterion(train_loss_at_most=0.01, train_acc_at_least=0.995, max_steps=20_000)``
    reads "train loss <= 0.01 or train accuracy >= 99.5%, at most 20,000 optimizer steps".

    The targets combine with *or*: any one given target is enough. Comparisons are inclusive
    and use the full-training-set loss and accuracy recorded after each epoch (and after
    epoch 0, before any step: a model that already meets the criterion is not trained).
    A run that hits the cap first is not an error: :func:`train` marks it with
    ``History.reached = False``.

    With ``check_every=k`` the criterion is also checked on the full training set after every
    k-th optimizer step (counted from the start of training), so that runs with few and with
    many steps per epoch stop at nearly the same train loss; the history then gains an entry
    at the step where it is met, labelled with that partial epoch's number.

    Args:
        train_loss_at_most: met when the mean train loss is ``<=`` this (positive, finite).
        train_acc_at_least: met when the train accuracy is ``>=`` this fraction in ``(0, 1]``
            (``0.995`` for 99.5%); needs integer class labels.
        max_steps: the cap: at most this many optimizer steps (a positive integer). Training
            stops at exactly ``max_steps``, mid-epoch if need be, and evaluates once more there.
        check_every: also check after every this many optimizer steps (a positive integer);
            ``None`` (default): only after each epoch.

    Raises:
        ValueError: when neither target is given, a target is not positive (or not finite),
            the accuracy target exceeds 1, or ``max_steps`` or ``check_every`` is not a positive
            integer.
    """

    train_loss_at_most: float | None = None
    train_acc_at_least: float | None = None
    max_steps: int
    check_every: int | None = None

    def __post_init__(self) -> None:
        loss, acc, cap = self.train_loss_at_most, self.train_acc_at_least, self.max_steps
        if loss is None and acc is None:
            raise ValueError("a Criterion needs a target: give train_loss_at_most=..., "
                             "train_acc_at_least=... or both (either one is then enough)")
        for name, value in (("train_loss_at_most", loss), ("train_acc_at_least", acc)):
            if value is None:
                continue
            if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                    or not math.isfinite(value) or value <= 0):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}; "
                                 f"give a number > 0, e.g. {name}=0.01 for a loss or 0.995 "
                                 "for 99.5% accuracy (a target <= 0 can never be met)")
            object.__setattr__(self, name, float(value))
        if acc is not None and acc > 1:
            hint = f"write {acc / 100:g} for {acc:g}%" if acc <= 100 else "1.0 is 100%"
            raise ValueError(f"train_acc_at_least must be a fraction in (0, 1], got {acc!r}; "
                             f"accuracy is a fraction of the training set ({hint})")
        if isinstance(cap, bool) or not isinstance(cap, numbers.Integral) or cap <= 0:
            raise ValueError(f"max_steps must be a positive integer (the cap on optimizer "
                             f"steps), got {cap!r}; e.g. max_steps=20_000")
        object.__setattr__(self, "max_steps", int(cap))
        k = self.check_every
        if k is not None:
            if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k <= 0:
                raise ValueError(f"check_every must be a positive integer (optimizer steps "
                                 f"between checks) or None, got {k!r}")
            object.__setattr__(self, "check_every", int(k))

    def met_by(self, loss: float | None, acc: float | None) -> bool:
        """Whether a train loss and accuracy meet a target (``None`` or NaN: not met)."""
        if (self.train_loss_at_most is not None and loss is not None
                and loss <= self.train_loss_at_most):
            return True
        return (self.train_acc_at_least is not None and acc is not None
                and acc >= self.train_acc_at_least)

    def due(self, steps: int) -> bool:
        """Whether a mid-epoch check falls after ``steps`` optimizer steps."""
        return self.check_every is not None and steps % self.check_every == 0

    def met(self, history: History) -> bool:
        """Whether the last recorded train loss or accuracy of ``history`` meets a target.

        False for an empty history and for missing values (NaN, or ``None`` as NaN is stored).
        """
        if not history.epoch:
            return False
        return self.met_by(history.train_loss[-1], history.train_acc[-1])

    def describe(self) -> str:
        """One line for notebooks, e.g. ``train loss ≤ 0.01 or train accuracy ≥ 99.5%, at most
        20,000 optimizer steps``."""
        targets = []
        if self.train_loss_at_most is not None:
            targets.append(f"train loss ≤ {self.train_loss_at_most:g}")
        if self.train_acc_at_least is not None:
            targets.append(f"train accuracy ≥ {100 * self.train_acc_at_least:g}%")
        out = f"{' or '.join(targets)}, at most {self.max_steps:,} optimizer steps"
        if self.check_every is not None:
            out += f", checked every {self.check_every:,} steps"
        return out


@dataclass
class History:
    """What :func:`train` records. Epoch lists start with epoch 0 (before training).

    ``steps`` is the number of optimizer steps taken (``None`` in histories stored before it
    was counted). ``reached`` says whether the run met its :class:`Criterion` (``None`` when
    trained without one). When a criterion's step cap ends training mid-epoch, the last entry
    is the evaluation at the cap, labelled with the number of that partial epoch.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step_grad_norm: list[float] = field(default_factory=list)
    steps: int | None = None
    reached: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """Inverse of :meth:`to_dict`; keys added later (``steps``, ``reached``) may be absent."""
        return cls(**d)


def check_criterion(until: Criterion | None, epochs: int | None, y_train: torch.Tensor) -> None:
    """Validate the stopping settings shared by :func:`train` and ``train_ensemble``."""
    if until is None:
        if epochs is None:
            raise ValueError("give epochs=... or until=Criterion(...) (or both: then epochs "
                             "is a further cap)")
    elif not isinstance(until, Criterion):
        raise TypeError(f"until must be a hw1.training.Criterion, got {type(until).__name__}")
    elif (until.train_acc_at_least is not None and until.train_loss_at_most is None
          and torch.is_floating_point(y_train)):
        raise ValueError("train_acc_at_least needs integer class labels, but y_train is "
                         f"{y_train.dtype} (regression); use train_loss_at_most instead")
    if epochs is not None and (not isinstance(epochs, int) or epochs <= 0):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")


def cosine_factor(step: int, total: int) -> float:
    """The cosine schedule's multiplier of the base rate at ``step`` of ``total`` steps:
    ``(1 + cos(π · min(step, total) / total)) / 2``, from 1 down to 0."""
    return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))


def epoch_numbers(epochs: int | None) -> Iterator[int] | range:
    """``1..epochs``, or ``1, 2, ...`` without end when ``epochs`` is None."""
    return range(1, epochs + 1) if epochs is not None else itertools.count(1)


def gradient_global_norm(model: nn.Module) -> float:
    """L2 norm of all ``.grad`` tensors of ``model`` taken together."""
    norms = [p.grad.detach().norm() for p in model.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms)).item() if norms else 0.0


def make_optimizer(name: str, params, lr: float, momentum: float = 0.9) -> torch.optim.Optimizer:
    """``"adam"`` or ``"sgd"`` (with momentum) over ``params``."""
    if lr <= 0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")


def train(model: nn.Module, x_train: torch.Tensor, y_train: torch.Tensor,
          x_test: torch.Tensor | None = None, y_test: torch.Tensor | None = None, *,
          epochs: int | None = None, batch_size: int, lr: float, seed: int,
          optimizer: str = "adam", loss: str = "cross_entropy", record_steps: bool = False,
          on_epoch_end: Callable[[int, nn.Module, History], None] | None = None,
          stop_when: Callable[[History], bool] | None = None,
          until: Criterion | None = None,
          on_step: Callable[[int, nn.Module], None] | None = None,
          schedule: str = "constant",
          device: torch.device | None = None, desc: str | None = None,
          eval_train_size: int | None = None) -> History:
    """Train ``model`` in place with mini-batches and return its history.

    Args:
        model: maps ``x_train`` ``(N, ...)`` to outputs ``(N, K)``.
        x_train, y_train: training data; ``y`` int64 ``(N,)`` for cross-entropy,
            float ``(N, K)`` for MSE.
        x_test, y_test: optional held-out data evaluated after every epoch.
        epochs: number of passes over the training data. Required without ``until``; with it,
            optional and a further cap (``None``: as many epochs as the criterion needs).
        batch_size: samples per step.
        lr: learning rate.
        seed: seeds the batch order (an explicit ``torch.Generator``).
        optimizer: ``"adam"`` or ``"sgd"``.
        loss: ``"cross_entropy"`` or ``"mse"``.
        record_steps: also record every step's loss and global gradient norm.
        on_epoch_end: called as ``f(epoch, model, history)`` after epoch 0 and each epoch.
        stop_when: checked after each epoch; training ends early when it returns True
            (e.g. ``lambda h: h.train_acc[-1] > 0.95``).
        until: train until this :class:`Criterion` holds, checked on the full training set
            after epoch 0 and every epoch (and every ``until.check_every`` steps, if set); stop
            at the first recorded epoch (or check) that meets it, or
            at exactly ``until.max_steps`` optimizer steps (mid-epoch if need be, followed by
            one more evaluation recorded under that partial epoch's number). Hitting the cap
            is not an error: ``history.reached`` is then False.
        on_step: called as ``f(steps_taken, model)`` before every optimizer step, at the
            weights that step's mini-batch gradient is taken at (for measurements; it must
            leave the model's parameters and ``.grad`` alone).
        schedule: ``"constant"``, or ``"cosine"``: step t of the T = ``epochs * ceil(N /
            batch_size)`` steps uses ``lr · (1 + cos(π t / T)) / 2`` (needs ``epochs``).
        device: where to train (default :func:`hw1.config.device`).
        desc: label for the progress bar.
        eval_train_size: record the training loss and accuracy on the first this many
            training samples only (a fixed subset; ``until`` and ``stop_when`` then judge that
            subset); None: on all of them.

    Returns:
        The :class:`History`, with ``steps`` (optimizer steps taken, ``epochs * ceil(N /
        batch_size)`` for a full run) and ``reached`` (``until.met`` at the end; ``None``
        without ``until``).

    Raises:
        ValueError: for non-positive epochs, batch size or learning rate, for neither
            ``epochs`` nor ``until``, or an accuracy target with float (regression) labels.
        FloatingPointError: when the loss becomes NaN or infinite (names epoch and step).
    """
    check_criterion(until, epochs, y_train)
    if eval_train_size is not None and eval_train_size <= 0:
        raise ValueError(f"eval_train_size must be positive, got {eval_train_size}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    dev = device or default_device()
    model.to(dev)
    x_train, y_train = x_train.to(dev), y_train.to(dev)
    has_test = x_test is not None and y_test is not None
    if has_test:
        x_test, y_test = x_test.to(dev), y_test.to(dev)
    loss_fn = loss_function(loss)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"unknown schedule {schedule!r}; use 'constant' or 'cosine'")
    if schedule == "cosine" and epochs is None:
        raise ValueError("schedule='cosine' needs epochs (the schedule's length)")
    total_steps = (epochs or 0) * math.ceil(len(x_train) / batch_size)
    gen = torch.Generator().manual_seed(seed)
    hist = History(steps=0)
    max_steps = until.max_steps if until is not None else None

    def record(epoch: int) -> None:
        hist.epoch.append(epoch)
        tr = evaluate(model, loss_fn, x_train[:eval_train_size], y_train[:eval_train_size])
        hist.train_loss.append(tr[0])
        hist.train_acc.append(tr[1])
        te = evaluate(model, loss_fn, x_test, y_test) if has_test else (math.nan, math.nan)
        hist.test_loss.append(te[0])
        hist.test_acc.append(te[1])
        if on_epoch_end is not None:
            on_epoch_end(epoch, model, hist)

    record(0)
    bar = progress(epoch_numbers(epochs), total=epochs, desc=desc or "training", leave=False)
    met_at_start = until is not None and until.met(hist)  # then nothing to train
    for epoch in () if met_at_start else bar:
        model.train()
        for step, (xb, yb) in enumerate(batches(x_train, y_train, batch_size, gen)):
            if on_step is not None:
                on_step(hist.steps, model)
                model.train()
            opt.zero_grad(set_to_none=True)
            batch_loss = loss_fn(model(xb), yb)
            if not torch.isfinite(batch_loss):
                raise FloatingPointError(
                    f"training diverged: loss is {batch_loss.item()} at epoch {epoch}, step {step} "
                    f"(lr={lr}, optimizer={optimizer}); lower the learning rate or check the data.")
            batch_loss.backward()
            if record_steps:
                hist.step_loss.append(batch_loss.item())
                hist.step_grad_norm.append(gradient_global_norm(model))
            if schedule == "cosine":
                for group in opt.param_groups:
                    group["lr"] = lr * cosine_factor(hist.steps, total_steps)
            opt.step()
            hist.steps += 1
            if max_steps is not None and hist.steps >= max_steps:
                break
            if until is not None and until.due(hist.steps) and until.met_by(
                    *evaluate(model, loss_fn, x_train, y_train)):
                break
        record(epoch)
        bar.set_postfix(train_loss=f"{hist.train_loss[-1]:.4g}")
        if until is not None and (until.met(hist) or hist.steps >= max_steps):
            break
        if stop_when is not None and stop_when(hist):
            break
    bar.close()
    if until is not None:
        hist.reached = until.met(hist)
    model.eval()
    return hist
