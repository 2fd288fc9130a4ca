"""The compute path of the gradient-norm experiment: its settings and the training of both
tasks per seed, with the full-batch gradient, its noise decomposition, check batches and
Adam's update norm measured along the way."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from hw1.config import ExperimentConfig
from hw1.data import DATASETS, TARGET_FUNCTIONS, load_subset, target_function
from hw1.metrics import gradient_noise
from hw1.models import count_params, mlp, mlp_with_params
from hw1.store import RunStore
from hw1.training import batches, evaluate, loss_function, train

MEASURED = ("measure_step", "full_loss", "full_grad_norm_sq", "trace_cov", "noise_sq",
            "predicted_batch_norm_sq", "sampled_batch_norm_sq")


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the gradient-norm experiment.

    Attributes:
        function, function_params, function_points, function_epochs: the 1-D task (an MLP of
            ``function_params`` parameters, 2 hidden layers, MSE).
        dataset, dataset_widths, n_train, dataset_epochs: the image task (an MLP, cross-entropy).
        batch_size, lr: Adam settings.
        seeds: one run per seed and task.
        measure_every: optimizer steps between full-batch measurements.
        check_batches: random mini-batches drawn at each measurement, whose mean ‖g_B‖² checks
            the predicted E‖g_B‖².
    """

    name: ClassVar[str] = "gradient_norm"
    positive: ClassVar[tuple[str, ...]] = ("function_params", "function_points", "function_epochs",
                                           "dataset_widths", "n_train", "dataset_epochs",
                                           "batch_size", "lr", "measure_every", "check_batches")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"function": tuple(TARGET_FUNCTIONS),
                                                     "dataset": DATASETS}
    function: str = "sinc"
    function_params: int = 750
    function_points: int = 2000
    function_epochs: int = 150
    dataset: str = "mnist"
    dataset_widths: tuple[int, ...] = (64, 32)
    n_train: int = 20_000
    dataset_epochs: int = 8
    batch_size: int = 128
    lr: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2)
    measure_every: int = 50
    check_batches: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.seeds or any(s < 0 for s in self.seeds):
            raise ValueError(f"seeds must be non-negative ints, at least one; got {self.seeds}")


Config.register(full=Config(), smoke=Config(function_points=256, function_epochs=3,
                                            dataset="digits", n_train=1000, dataset_epochs=2,
                                            seeds=(0, 1), measure_every=5, check_batches=4))


def _endless_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int,
                     gen: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of fresh permutations, one after another, without end."""
    while True:
        yield from batches(x, y, batch_size, gen)


def short_batch_steps(n_train: int, batch_size: int, n_steps: int) -> np.ndarray:
    """Boolean ``(n_steps,)``: which training steps used an epoch's short last batch."""
    per_epoch = -(-n_train // batch_size)
    short = np.zeros(n_steps, dtype=bool)
    if n_train % batch_size:
        short[per_epoch - 1::per_epoch] = True
    return short


def _measure(cfg: Config, x: torch.Tensor, y: torch.Tensor, loss: str, seed: int):
    """An ``on_step`` callback filling the lists of :data:`MEASURED` every few steps."""
    loss_fn = loss_function(loss)
    out = {k: [] for k in MEASURED}
    out["step_update_norm"] = []  # ‖θ_{t+1} − θ_t‖ of every optimizer step t but the last
    previous: list[torch.Tensor] = []

    def batch_grad_sq(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> float:
        params = [p for p in model.parameters() if p.requires_grad]
        grads = torch.autograd.grad(loss_fn(model(xb), yb), params)
        return float(sum(g.double().pow(2).sum() for g in grads))

    def on_step(step: int, model: nn.Module) -> None:
        theta = torch.cat([p.detach().flatten() for p in model.parameters()]).double()
        if previous:
            out["step_update_norm"].append(float((theta - previous[0]).norm()))
        previous[:] = [theta]
        if step % cfg.measure_every:
            return
        model.eval()
        noise = gradient_noise(model, loss_fn, x, y, cfg.batch_size, chunk_size=4096,
                               method="linear")
        gen = torch.Generator().manual_seed(seed * 1_000_003 + step)  # its own draws
        full_size = ((xb, yb) for xb, yb in _endless_batches(x, y, cfg.batch_size, gen)
                     if len(xb) == cfg.batch_size)  # the prediction is for batches of B
        sampled = [batch_grad_sq(model, xb, yb)
                   for _, (xb, yb) in zip(range(cfg.check_batches), full_size, strict=False)]
        for key, value in (("measure_step", step), ("full_loss", evaluate(model, loss_fn, x, y)[0]),
                           ("full_grad_norm_sq", noise["grad_norm_sq"]),
                           ("trace_cov", noise["trace_cov"]), ("noise_sq", noise["noise_sq"]),
                           ("predicted_batch_norm_sq", noise["predicted_batch_norm_sq"]),
                           ("sampled_batch_norm_sq", float(np.mean(sampled)))):
            out[key].append(value)

    return on_step, out


def _train_function(cfg: Config, seed: int) -> tuple[dict, str]:
    target = target_function(cfg.function)
    x, y = target.sample(cfg.function_points)
    torch.manual_seed(seed)
    model = mlp_with_params(cfg.function_params, 2)
    on_step, measured = _measure(cfg, x, y, "mse", seed)
    hist = train(model, x, y, epochs=cfg.function_epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                 seed=seed, loss="mse", record_steps=True, on_step=on_step,
                 desc=f"{target.formula}, seed {seed}")
    return ({"history": hist.to_dict(), "measured": measured, "n_params": count_params(model),
             "loss": "MSE", "n_train": len(x)}, f"{cfg.function_points} points of {target.formula}")


def _train_dataset(cfg: Config, seed: int) -> tuple[dict, str]:
    data = load_subset(cfg.dataset, cfg.n_train, 1)
    torch.manual_seed(seed)
    model = mlp(int(np.prod(data.input_shape)), list(cfg.dataset_widths), data.num_classes)
    x, y = data.x_train, data.y_train
    on_step, measured = _measure(cfg, x, y, "cross_entropy", seed)
    hist = train(model, x, y, epochs=cfg.dataset_epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                 seed=seed, record_steps=True, on_step=on_step, desc=f"{cfg.dataset}, seed {seed}")
    return ({"history": hist.to_dict(), "measured": measured, "n_params": count_params(model),
             "loss": "cross-entropy", "n_train": len(x)}, data.source)


def _unit(cfg: Config, spec: dict, seed: int) -> tuple[dict, str]:
    return _train_function(cfg, seed) if "function" in spec else _train_dataset(cfg, seed)


def run(cfg: Config, executor: Executor | None = None) -> dict[str, dict]:
    """Train (or load) both tasks for every seed.

    Args:
        cfg: the experiment's settings.
        executor: runs the (task, seed) runs; None: here, one after another.

    Returns:
        ``results[task]`` = ``{"runs": [per-seed result], "seeds", "source", "n_params",
        "loss", "n_train"}``; each result has the ``history`` with per-step lists and the
        ``measured`` full-batch lists (:data:`MEASURED`).
    """
    c = cfg.to_dict()
    shared = ("batch_size", "lr", "measure_every", "check_batches")
    fn_spec = {k: v for k, v in c.items() if k.startswith("function") or k in shared}
    ds_spec = {k: v for k, v in c.items() if not k.startswith("function") and k != "seeds"}
    items = [(spec, seed) for spec in (fn_spec, ds_spec) for seed in cfg.seeds]
    runs = RunStore(cfg.name).sweep(items, partial(_unit, cfg), executor=executor)
    out = {}
    for t, task in enumerate((cfg.function, cfg.dataset)):
        mine = runs[t * len(cfg.seeds):(t + 1) * len(cfg.seeds)]
        first = mine[0].result
        out[task] = {"runs": [r.result for r in mine], "seeds": list(cfg.seeds),
                     "source": mine[0].data_source, "n_params": first["n_params"],
                     "loss": first["loss"], "n_train": first["n_train"],
                     "batch_size": cfg.batch_size, "check_batches": cfg.check_batches}
    return out
