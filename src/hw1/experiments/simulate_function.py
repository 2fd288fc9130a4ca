"""HW1-1 (simulate a function): networks of different depth, equal parameter counts, fitting
1-D functions, each trained to a stated plateau.

Each (function, depth) trains every (learning rate, seed) pair at once as one stacked
ensemble: full-batch Adam with a cosine-decayed rate. The rate with the lowest median final
loss over seeds is that depth's best; its seeds are then finished by Levenberg–Marquardt
(:func:`hw1.least_squares.fit_least_squares`) until the loss stops falling, so the depths are
compared at (or, where the criterion is not met, marked as short of) a plateau.
"""

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
from hw1.intervals import welch_difference
from hw1.least_squares import fit_least_squares
from hw1.metrics import linear_regions
from hw1.models import count_params, mlp_with_params, widths_of
from hw1.plotting import save_figure
from hw1.store import RunStore


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the function-simulation experiment.

    Attributes:
        functions: target function names (see :data:`hw1.data.TARGET_FUNCTIONS`).
        depths: numbers of hidden layers to compare.
        n_params: parameter count every model is matched to (within 1%).
        n_points: training points, evenly spaced over the domain (one full batch).
        steps: full-batch Adam steps, the rate decayed by a cosine from ``lr`` to 0.
        lrs: the learning-rate grid each depth is trained on.
        record_every: record the training loss every this many steps.
        lm_max_iter, lm_rel_tol, lm_patience: the Levenberg–Marquardt finish and its plateau
            criterion (``lm_patience`` trial steps in a row each lowering the loss by less than
            ``lm_rel_tol`` relative).
        grid_points: evenly spaced points on which predictions and linear pieces are read.
        seeds: one run per seed (initialization) at every learning rate.
    """

    name: ClassVar[str] = "simulate_function"
    positive: ClassVar[tuple[str, ...]] = ("depths", "n_params", "n_points", "steps", "lrs",
                                           "record_every", "lm_max_iter", "lm_rel_tol",
                                           "lm_patience", "grid_points")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"functions": tuple(TARGET_FUNCTIONS)}
    functions: tuple[str, ...] = ("sinc", "square_wave")
    depths: tuple[int, ...] = (1, 2, 5)
    n_params: int = 750
    n_points: int = 500
    steps: int = 6000
    lrs: tuple[float, ...] = (3e-3, 1e-2, 3e-2, 1e-1)
    record_every: int = 20
    lm_max_iter: int = 1000
    lm_rel_tol: float = 1e-8
    lm_patience: int = 10
    grid_points: int = 20001
    seeds: tuple[int, ...] = (0, 1, 2)


Config.register(full=Config(), smoke=Config(n_params=300, n_points=128, steps=30, record_every=5,
                                            lm_max_iter=5, grid_points=501, seeds=(0, 1)))


def _train_one(cfg: Config, function: str, depth: int) -> tuple[dict, str]:
    target = target_function(function)
    x, y = target.sample(cfg.n_points)
    models, lrs, seeds = [], [], []
    for lr in cfg.lrs:
        for seed in cfg.seeds:
            torch.manual_seed(seed)
            models.append(mlp_with_params(cfg.n_params, depth))
            lrs.append(lr)
            seeds.append(seed)
    hists, ens = train_ensemble(models, x, y, epochs=cfg.steps, batch_size=cfg.n_points,
                                lr=lrs, seeds=seeds, loss="mse", schedule="cosine",
                                record_every=cfg.record_every, desc=f"{function}, depth {depth}")
    adam_loss = np.array([h.train_loss[-1] for h in hists]).reshape(len(cfg.lrs), -1)
    best = int(np.argmin(np.median(adam_loss, axis=1)))
    trained = ens.models()[best * len(cfg.seeds):(best + 1) * len(cfg.seeds)]
    grid, _ = target.sample(cfg.grid_points)
    fits, predictions, pieces = [], [], []
    for model in trained:
        fit = fit_least_squares(model, x, y, max_iter=cfg.lm_max_iter, rel_tol=cfg.lm_rel_tol,
                                patience=cfg.lm_patience)
        with torch.no_grad():
            predictions.append(fit["model"](grid.double())[:, 0].float())
        pieces.append(linear_regions(fit["model"], grid.double()))
        fits.append({k: fit[k] for k in ("loss", "start_loss", "grad_norm", "converged",
                                         "reason", "iterations", "accepted", "loss_trace")})
    result = {"steps": hists[0].epoch, "adam_loss_curves": [h.train_loss for h in hists],
              "lrs": list(cfg.lrs), "seeds": list(cfg.seeds), "best_lr": cfg.lrs[best],
              "adam_final_loss": adam_loss.tolist(), "fits": fits, "linear_pieces": pieces,
              "n_params": count_params(models[0]), "widths": widths_of(models[0]),
              "grid": grid[:, 0], "predictions": torch.stack(predictions)}
    return result, f"{cfg.n_points} points of {target.formula} on {list(target.domain)}"


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str]:
    return _train_one(cfg, spec["function"], spec["depth"])


def run(cfg: Config, executor: Executor | None = None) -> dict[str, dict[int, dict]]:
    """Train (or load from the run store) every function x depth.

    Args:
        cfg: the experiment's settings.
        executor: runs the missing (function, depth) units; None: one after another here
            (see :meth:`hw1.store.RunStore.sweep`).

    Returns:
        ``results[function][depth]`` with ``steps`` ``(T,)``, ``adam_loss_curves`` (one
        ``(T,)`` list per (lr, seed), lr-major), ``adam_final_loss`` ``(n_lrs, n_seeds)``,
        ``best_lr``, ``fits`` (one dict per seed of the best rate: ``loss``, ``start_loss``,
        ``grad_norm``, ``converged``, ``iterations``), ``linear_pieces`` (per seed),
        ``n_params``, ``widths``, ``grid`` ``(G,)`` and ``predictions`` ``(n_seeds, G)``.
    """
    shared = {k: v for k, v in cfg.to_dict().items() if k not in ("functions", "depths")}
    grid = [(f, d) for f in cfg.functions for d in cfg.depths]
    items = [({**shared, "function": f, "depth": d}, list(cfg.seeds)) for f, d in grid]
    runs = RunStore(cfg.name).sweep(items, partial(_unit, cfg), executor=executor)
    results: dict[str, dict[int, dict]] = {f: {} for f in cfg.functions}
    for (f, d), stored in zip(grid, runs, strict=True):
        results[f][d] = stored.result
    return results


def lr_table(results: dict) -> list[dict]:
    """One row per (function, depth, learning rate): Adam's final loss over seeds."""
    rows = []
    for function, by_depth in results.items():
        for depth, r in by_depth.items():
            for lr, losses in zip(r["lrs"], r["adam_final_loss"], strict=True):
                rows.append({"function": function, "depth": depth, "lr": lr,
                             "adam_loss_median": float(np.median(losses)),
                             "adam_loss_min": float(np.min(losses)),
                             "adam_loss_max": float(np.max(losses)),
                             "best": lr == r["best_lr"]})
    return rows


def per_seed_table(results: dict) -> list[dict]:
    """One row per (function, depth, seed) at the best rate: the Adam and finished losses, how
    the Levenberg–Marquardt finish ended (plateau ``converged``, ``stalled`` or ``max_iter``),
    its trial and kept steps, the final gradient norm and the number of linear pieces."""
    rows = []
    for function, by_depth in results.items():
        for depth, r in by_depth.items():
            for seed, fit, pieces in zip(r["seeds"], r["fits"], r["linear_pieces"],
                                         strict=True):
                rows.append({"function": function, "depth": depth, "widths": r["widths"],
                             "params": r["n_params"], "lr": r["best_lr"], "seed": seed,
                             "adam_loss": fit["start_loss"], "final_loss": fit["loss"],
                             "lm_ending": fit["reason"], "lm_trials": fit["iterations"],
                             "lm_kept": fit["accepted"], "grad_norm": fit["grad_norm"],
                             "linear_pieces": pieces})
    return rows


def summary(results: dict) -> list[dict]:
    """One row per (function, depth): the finished loss and linear pieces over seeds."""
    rows = []
    for function, by_depth in results.items():
        for depth, r in by_depth.items():
            final = np.array([f["loss"] for f in r["fits"]])
            pieces = np.array(r["linear_pieces"])
            rows.append({"function": function, "depth": depth, "widths": r["widths"],
                         "params": r["n_params"], "best_lr": r["best_lr"],
                         "final_loss_median": float(np.median(final)),
                         "final_loss_min": float(final.min()),
                         "final_loss_max": float(final.max()),
                         "plateau": sum(f["reason"] == "converged" for f in r["fits"]),
                         "stalled": sum(f["reason"] == "stalled" for f in r["fits"]),
                         "step_cap": sum(f["reason"] == "max_iter" for f in r["fits"]),
                         "pieces_median": float(np.median(pieces)),
                         "pieces_min": int(pieces.min()), "pieces_max": int(pieces.max())})
    return rows


def _depth_label(depth: int, r: dict) -> str:
    return f"{depth} hidden layer{'s' * (depth > 1)} ({r['n_params']} params)"


def make_figures(results: dict) -> list[plt.Figure]:
    """Per function: every seed's Adam-phase loss at each depth's best rate, then its
    Levenberg–Marquardt finish; and every seed's prediction against the ground truth."""
    fns = list(results)
    fig_loss, axes = plt.subplots(2, len(fns), figsize=(5.6 * len(fns), 7.6), squeeze=False)
    for col, fn in enumerate(fns):
        ax_adam, ax_lm = axes[0, col], axes[1, col]
        for i, (depth, r) in enumerate(results[fn].items()):
            best = r["lrs"].index(r["best_lr"])
            n = len(r["seeds"])
            curves = np.array(r["adam_loss_curves"][best * n:(best + 1) * n])
            color = f"C{i}"
            for k, fit in enumerate(r["fits"]):
                label = f"{_depth_label(depth, r)}, lr {r['best_lr']:g}" if k == 0 else None
                ax_adam.plot(r["steps"], curves[k], color=color, lw=0.8, label=label)
                trace = [fit["start_loss"], *fit["loss_trace"]]
                ax_lm.plot(np.arange(len(trace)), trace, color=color, lw=0.8,
                           label=f"depth {depth}" if k == 0 else None)
                ax_lm.plot(len(trace) - 1, trace[-1], marker={"converged": "o",
                           "stalled": "s", "max_iter": ">"}[fit["reason"]], color=color,
                           mfc="none", ms=6)
        ax_adam.set(yscale="log", xlabel="full-batch Adam step (cosine-decayed rate)",
                    ylabel="training MSE", title=f"{target_function(fn).formula}: Adam phase")
        ax_adam.legend(fontsize=7, loc="upper right")
        ax_lm.set(yscale="log", xscale="symlog", xlabel="kept Levenberg–Marquardt step",
                  ylabel="training MSE",
                  title="finish (end: ○ plateau, □ stalled, ▷ step cap)")
        ax_lm.set_xlim(left=0)
    fig_loss.suptitle("Training loss of every seed at each depth's best rate")
    fig_loss.tight_layout()
    save_figure(fig_loss, "simulate_function_training_loss")

    depths = list(next(iter(results.values())))
    fig_pred, axes = plt.subplots(len(depths), len(fns), figsize=(5.6 * len(fns),
                                  2.6 * len(depths)), squeeze=False, sharex=True)
    for col, fn in enumerate(fns):
        for row, depth in enumerate(depths):
            ax, r = axes[row, col], results[fn][depth]
            grid = np.asarray(r["grid"])
            ax.plot(grid, target_function(fn).fn(torch.as_tensor(grid)).numpy(), color="black",
                    lw=2.5, alpha=0.25, label="ground truth")
            for k, (seed, fit) in enumerate(zip(r["seeds"], r["fits"], strict=True)):
                ax.plot(grid, np.asarray(r["predictions"])[k], lw=0.9, color=f"C{k + 3}",
                        label=f"seed {seed} (MSE {fit['loss']:.2g})")
            ax.set(ylabel="y", title=f"{target_function(fn).formula}, {_depth_label(depth, r)}")
            ax.set_xticks(np.linspace(-1, 1, 5))
            ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
        axes[-1, col].set_xlabel("x")
    fig_pred.suptitle("Every seed's prediction after the finish, at each depth's best rate")
    fig_pred.tight_layout()
    save_figure(fig_pred, "simulate_function_predictions")
    return [fig_loss, fig_pred]


def loss_ratio_table(results: dict) -> list[dict]:
    """Per function and depth: its median finished loss divided by the deepest model's, and
    its best seed's loss divided by the deepest model's best seed's."""
    rows = []
    for function, by_depth in results.items():
        final = {d: np.array([f["loss"] for f in r["fits"]]) for d, r in by_depth.items()}
        deepest = max(final)
        for depth, losses in final.items():
            rows.append({"function": function, "depth": depth,
                         "median_over_deepest_median": float(
                             np.median(losses) / np.median(final[deepest])),
                         "best_over_deepest_best": float(losses.min() / final[deepest].min())})
    return rows


def depth_comparison(results: dict) -> list[dict]:
    """Per function and pair of depths: the difference of mean log10 finished loss (deeper
    minus shallower) with a 95% Welch t-interval over seeds
    (:func:`hw1.intervals.welch_difference`)."""
    rows = []
    for function, by_depth in results.items():
        logs = {d: np.log10([f["loss"] for f in r["fits"]]) for d, r in by_depth.items()}
        for deep in logs:
            for shallow in logs:
                if shallow >= deep:
                    continue
                diff = welch_difference(logs[deep], logs[shallow])
                rows.append({"function": function, "comparison": f"{deep} - {shallow} layers",
                             "log10_loss_difference": diff.pop("difference"), **diff})
    return rows
