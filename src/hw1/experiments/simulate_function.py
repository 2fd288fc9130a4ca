"""HW1-1 (simulate a function): networks of different depth, equal parameter counts, fitting
1-D functions. Each (function, depth) trains all seeds at once as a stacked ensemble."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np
import torch

from hw1.config import ExperimentConfig
from hw1.data import TARGET_FUNCTIONS, target_function
from hw1.ensemble import train_ensemble
from hw1.models import count_params, mlp_with_params, widths_of
from hw1.plotting import band, save_figure
from hw1.store import RunStore
from hw1.training import History


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the function-simulation experiment.

    Attributes:
        functions: target function names (see :data:`hw1.data.TARGET_FUNCTIONS`).
        depths: numbers of hidden layers to compare.
        n_params: parameter count every model is matched to (within 1%).
        n_points: training points, evenly spaced over the domain.
        epochs, batch_size, lr: Adam training settings.
        seeds: one run per seed (initialization and batch order).
    """

    name: ClassVar[str] = "simulate_function"
    positive: ClassVar[tuple[str, ...]] = ("depths", "n_params", "n_points", "epochs",
                                           "batch_size", "lr")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"functions": tuple(TARGET_FUNCTIONS)}
    functions: tuple[str, ...] = ("sinc", "square_wave")
    depths: tuple[int, ...] = (1, 2, 5)
    n_params: int = 750
    n_points: int = 2000
    epochs: int = 1000
    batch_size: int = 128
    lr: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2)


Config.register(full=Config(), smoke=Config(n_params=300, n_points=128, epochs=3, seeds=(0, 1)))


def _train_one(cfg: Config, function: str, depth: int) -> tuple[dict, str]:
    target = target_function(function)
    x, y = target.sample(cfg.n_points)
    models = []
    for seed in cfg.seeds:
        torch.manual_seed(seed)
        models.append(mlp_with_params(cfg.n_params, depth))
    hists, ens = train_ensemble(models, x, y, epochs=cfg.epochs, batch_size=cfg.batch_size,
                                lr=cfg.lr, seeds=cfg.seeds, loss="mse",
                                desc=f"{function}, depth {depth}")
    grid, _ = target.sample(500)
    with torch.no_grad():
        pred = ens.to(torch.device("cpu")).forward_shared(grid)[..., 0]  # (R, 500)
    result = {"histories": [h.to_dict() for h in hists], "n_params": count_params(models[0]),
              "widths": widths_of(models[0]), "grid": grid[:, 0], "predictions": pred}
    return result, f"{cfg.n_points} points of {target.formula} on {list(target.domain)}"


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str]:
    return _train_one(cfg, spec["function"], spec["depth"])


def run(cfg: Config, executor: Executor | None = None) -> dict[str, dict[int, dict]]:
    """Train (or load from the run store) every function x depth.

    Args:
        cfg: the experiment's settings.
        executor: runs the missing (function, depth) ensembles; None: one after another
            here (see :meth:`hw1.store.RunStore.sweep`).

    Returns:
        ``results[function][depth]`` with keys ``histories`` (one dict per seed),
        ``n_params``, ``widths``, ``grid`` ``(500,)`` and ``predictions`` ``(R, 500)``.
    """
    shared = {k: v for k, v in cfg.to_dict().items() if k not in ("functions", "depths")}
    grid = [(f, d) for f in cfg.functions for d in cfg.depths]
    items = [({**shared, "function": f, "depth": d}, list(cfg.seeds)) for f, d in grid]
    runs = RunStore(cfg.name).sweep(items, partial(_unit, cfg), executor=executor)
    results: dict[str, dict[int, dict]] = {f: {} for f in cfg.functions}
    for (f, d), stored in zip(grid, runs, strict=True):
        results[f][d] = stored.result
    return results


def summary(results: dict) -> list[dict]:
    """One row per (function, depth): parameters and final training loss over seeds."""
    rows = []
    for function, by_depth in results.items():
        for depth, r in by_depth.items():
            final = np.array([h["train_loss"][-1] for h in r["histories"]])
            rows.append({"function": function, "depth": depth, "widths": r["widths"],
                         "params": r["n_params"], "final_loss_mean": float(final.mean()),
                         "final_loss_min": float(final.min()),
                         "final_loss_max": float(final.max())})
    return rows


def make_figures(results: dict) -> list[plt.Figure]:
    """Loss curves (all depths per function) and predictions against the ground truth."""
    fns = list(results)
    fig_loss, axes = plt.subplots(1, len(fns), figsize=(5 * len(fns), 3.6), squeeze=False)
    for ax, fn in zip(axes[0], fns, strict=True):
        for depth, r in results[fn].items():
            hists = [History.from_dict(h) for h in r["histories"]]
            band(ax, hists[0].epoch, np.array([h.train_loss for h in hists]),
                 label=f"{depth} hidden layer{'s' * (depth > 1)} ({r['n_params']} params)")
        ax.set(yscale="log", xlabel="epoch", ylabel="training MSE",
               title=f"{target_function(fn).formula}: training loss (mean, min-max over seeds)")
        ax.legend()
    save_figure(fig_loss, "simulate_function_training_loss")

    fig_pred, axes = plt.subplots(1, len(fns), figsize=(5 * len(fns), 3.6), squeeze=False)
    for ax, fn in zip(axes[0], fns, strict=True):
        first = next(iter(results[fn].values()))
        grid = np.asarray(first["grid"])
        ax.plot(grid, target_function(fn).fn(torch.as_tensor(grid)).numpy(), color="black",
                lw=2.5, alpha=0.35, label="ground truth")
        for depth, r in results[fn].items():
            band(ax, grid, np.asarray(r["predictions"]),
                 label=f"{depth} hidden layer{'s' * (depth > 1)}", lw=1)
        ax.set(xlabel="x", ylabel="y", title=f"{target_function(fn).formula}: predictions")
        ax.legend()
    save_figure(fig_pred, "simulate_function_predictions")
    return [fig_loss, fig_pred]
