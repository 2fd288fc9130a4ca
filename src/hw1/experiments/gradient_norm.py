"""HW1-2 (observe gradient norm during training): the loss and the global gradient norm of
every iteration, on a 1-D function task and on MNIST."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np
import torch

from hw1.config import ExperimentConfig
from hw1.data import DATASETS, TARGET_FUNCTIONS, load_subset, target_function
from hw1.models import count_params, mlp, mlp_with_params
from hw1.plotting import save_figure
from hw1.store import RunStore
from hw1.training import train


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the gradient-norm experiment.

    Attributes:
        function, function_params, function_points, function_epochs: the 1-D task (an MLP of
            ``function_params`` parameters, 2 hidden layers, MSE).
        dataset, dataset_widths, n_train, dataset_epochs: the image task (an MLP, cross-entropy).
        batch_size, lr, seed: Adam settings and the seed.
    """

    name: ClassVar[str] = "gradient_norm"
    positive: ClassVar[tuple[str, ...]] = ("function_params", "function_points", "function_epochs",
                                           "dataset_widths", "n_train", "dataset_epochs",
                                           "batch_size", "lr")
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
    seed: int = 0


Config.register(full=Config(), smoke=Config(function_points=256, function_epochs=3,
                                            dataset="digits", n_train=1000, dataset_epochs=2))


def _train_function(cfg: Config) -> tuple[dict, str]:
    target = target_function(cfg.function)
    x, y = target.sample(cfg.function_points)
    torch.manual_seed(cfg.seed)
    model = mlp_with_params(cfg.function_params, 2)
    hist = train(model, x, y, epochs=cfg.function_epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                 seed=cfg.seed, loss="mse", record_steps=True, desc=target.formula)
    return ({"history": hist.to_dict(), "n_params": count_params(model), "loss": "MSE"},
            f"{cfg.function_points} points of {target.formula}")


def _train_dataset(cfg: Config) -> tuple[dict, str]:
    data = load_subset(cfg.dataset, cfg.n_train, 1)
    torch.manual_seed(cfg.seed)
    model = mlp(int(np.prod(data.input_shape)), list(cfg.dataset_widths), data.num_classes)
    hist = train(model, data.x_train, data.y_train, epochs=cfg.dataset_epochs,
                 batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed, record_steps=True,
                 desc=cfg.dataset)
    return ({"history": hist.to_dict(), "n_params": count_params(model),
             "loss": "cross-entropy"}, data.source)


def _unit(cfg: Config, spec: dict, seed: int) -> tuple[dict, str]:
    return _train_function(cfg) if "function" in spec else _train_dataset(cfg)


def run(cfg: Config, executor: Executor | None = None) -> dict[str, dict]:
    """Train (or load) both tasks; ``results[task]`` holds the history with per-step lists.

    Args:
        cfg: the experiment's settings.
        executor: runs the two tasks; None: here, one after the other.
    """
    c = cfg.to_dict()
    fn_spec = {k: v for k, v in c.items() if k.startswith("function") or k in ("batch_size", "lr")}
    ds_spec = {k: v for k, v in c.items() if not k.startswith("function") and k != "seed"}
    runs = RunStore(cfg.name).sweep([(fn_spec, cfg.seed), (ds_spec, cfg.seed)],
                                    partial(_unit, cfg), executor=executor)
    return {task: {**stored.result, "source": stored.data_source}
            for task, stored in zip((cfg.function, cfg.dataset), runs, strict=True)}


def summary(results: dict) -> list[dict]:
    """Per task: steps, gradient norm at start/peak/end, loss at start/end."""
    rows = []
    for task, r in results.items():
        gn, loss = np.array(r["history"]["step_grad_norm"]), np.array(r["history"]["step_loss"])
        rows.append({"task": task, "params": r["n_params"], "steps": len(gn),
                     "grad_norm_first": float(gn[0]), "grad_norm_peak": float(gn.max()),
                     "peak_step": int(gn.argmax()), "grad_norm_last": float(gn[-1]),
                     "loss_first": float(loss[0]), "loss_last": float(loss[-1])})
    return rows


def make_figures(results: dict) -> list[plt.Figure]:
    """Loss (top) and gradient norm (bottom) per iteration, one column per task."""
    tasks = list(results)
    fig, axes = plt.subplots(2, len(tasks), figsize=(5.2 * len(tasks), 5.2), sharex="col",
                             squeeze=False)
    for col, task in enumerate(tasks):
        h = results[task]["history"]
        steps = np.arange(1, len(h["step_loss"]) + 1)
        name = target_function(task).formula if task in ("sinc", "square_wave") else task.upper()
        window = max(1, len(steps) // 50)
        for row, key, color in ((0, "step_loss", "C0"), (1, "step_grad_norm", "C3")):
            values = np.asarray(h[key])
            axes[row, col].plot(steps, values, lw=0.5, color=color, alpha=0.45,
                                label="every iteration")
            smooth = np.convolve(values, np.ones(window) / window, mode="valid")
            axes[row, col].plot(steps[window - 1:], smooth, lw=1.4, color="black",
                                label=f"mean of the last {window}")
        axes[0, col].set(yscale="log", ylabel=f"mini-batch {results[task]['loss']}",
                         title=f"{name} ({results[task]['n_params']} params)")
        axes[1, col].set(yscale="log", ylabel="gradient norm ‖∇L‖ (mini-batch)",
                         xlabel="iteration")
        axes[1, col].legend(fontsize=7)
    save_figure(fig, "gradient_norm_and_loss")
    return [fig]
