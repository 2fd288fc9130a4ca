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


def _layers(depth: int) -> str:
    """``"1 hidden layer"``, ``"5 hidden layers"``."""
    return f"{depth} hidden layer{'s' * (depth > 1)}"


def _ending(reason: str) -> str:
    """How a Levenberg–Marquardt finish ended, in the notebook's words."""
    return {"converged": "plateau", "stalled": "stalled", "max_iter": "step cap"}[reason]


def _grouped(frame, groups: dict[str, list[str]]):
    """``frame`` with a two-level header: each column in ``groups[top]`` under ``top``, the
    others under an empty top level.

    Args:
        frame: a display table (:func:`hw1.report.table`).
        groups: top-level label -> the columns (in ``frame``) it spans.

    Returns:
        the same table with :class:`pandas.MultiIndex` columns.
    """
    import pandas as pd

    top = {c: t for t, cols in groups.items() for c in cols}
    frame = frame.copy()
    frame.columns = pd.MultiIndex.from_tuples(
        [(top.get(c, ""), c.split(": ", 1)[-1]) for c in frame.columns])
    return frame


def summary(results: dict):
    """Per function and depth: the finished training MSE over seeds (median, min, max), how the
    seeds' finishes ended, and the activation regions (mean ± 95% t-interval over seeds).

    Args:
        results: as returned by :func:`run`.

    Returns:
        a display DataFrame (:func:`hw1.report.table`), one row per (function, depth), with a
        two-level header.
    """
    from hw1.report import ci, table

    rows = []
    for function, by_depth in results.items():
        for depth, r in by_depth.items():
            final = np.array([f["loss"] for f in r["fits"]])
            endings = [_ending(f["reason"]) for f in r["fits"]]
            rows.append({"target": target_function(function).formula,
                         "hidden layers": depth, "widths": r["widths"],
                         "params": r["n_params"], "best lr": r["best_lr"],
                         "final MSE: median": float(np.median(final)),
                         "final MSE: min": float(final.min()),
                         "final MSE: max": float(final.max()),
                         **{f"finish: {e}": endings.count(e)
                            for e in ("plateau", "stalled", "step cap")},
                         "activation regions (mean ± 95% CI)": ci(r["linear_pieces"])})
    return _grouped(table(rows), {
        f"final training MSE over {len(r['seeds'])} seeds": [
            "final MSE: median", "final MSE: min", "final MSE: max"],
        "finish ended in (seeds)": ["finish: plateau", "finish: stalled", "finish: step cap"]})


def loss_ratio_table(results: dict):
    """Per function and depth: its median finished loss divided by the deepest model's, and
    its best seed's loss divided by the deepest model's best seed's.

    Args:
        results: as returned by :func:`run`.

    Returns:
        a display DataFrame, one row per (function, depth).
    """
    from hw1.report import table

    rows = []
    for function, by_depth in results.items():
        final = {d: np.array([f["loss"] for f in r["fits"]]) for d, r in by_depth.items()}
        deepest = max(final)
        for depth, losses in final.items():
            rows.append({"target": target_function(function).formula, "hidden layers": depth,
                         f"median MSE ÷ {deepest}-layer median": float(
                             np.median(losses) / np.median(final[deepest])),
                         f"best seed's MSE ÷ {deepest}-layer best": float(
                             losses.min() / final[deepest].min())})
    return table(rows)


def depth_comparison(results: dict):
    """Per function and pair of depths: the difference of mean log10 finished loss and of mean
    activation-region count (deeper minus shallower), each with a 95% Welch t-interval over
    seeds (:func:`hw1.intervals.welch_difference`).

    Args:
        results: as returned by :func:`run`.

    Returns:
        a display DataFrame, one row per (function, pair of depths), with a two-level header:
        under ``log10 final MSE`` and under ``activation regions``, ``difference [95% CI]``
        (for the loss, negative: the deeper model reached the lower loss) and
        ``CI excludes 0``.
    """
    from hw1.report import diff, table

    rows = []
    for function, by_depth in results.items():
        logs = {d: np.log10([f["loss"] for f in r["fits"]]) for d, r in by_depth.items()}
        regions = {d: np.asarray(r["linear_pieces"], dtype=float) for d, r in by_depth.items()}
        for deep in logs:
            for shallow in logs:
                if shallow >= deep:
                    continue
                row = {"target": target_function(function).formula,
                       "deeper − shallower": f"{deep} − {shallow} hidden layers"}
                for top, values in (("log10 final MSE", logs), ("activation regions", regions)):
                    w = welch_difference(values[deep], values[shallow])
                    row[f"{top}: difference [95% CI]"] = diff(w["difference"], w["ci95_low"],
                                                              w["ci95_high"])
                    row[f"{top}: CI excludes 0"] = "yes" if w["excludes_0"] else "no"
                rows.append(row)
    return _grouped(table(rows), {
        top: [f"{top}: difference [95% CI]", f"{top}: CI excludes 0"]
        for top in ("log10 final MSE", "activation regions")})


def _last_change(trace: list[float], steps: int = 50) -> float:
    """The loss change over the last ``steps`` kept steps of a finish, in percent of the loss
    ``steps`` kept steps before the end (NaN for a shorter ``trace``)."""
    if len(trace) <= steps:
        return float("nan")
    return float(100 * (trace[-1] / trace[-1 - steps] - 1))


def per_seed_table(results: dict, function: str):
    """One row per (depth, seed) of one function at the depth's best rate: the loss after Adam
    and after the finish, how the Levenberg–Marquardt finish ended (plateau, stalled, step
    cap), its trial and kept steps, the relative change of the loss over its last 50 kept
    steps (blank for fewer than 51), the final gradient norm and the number of activation
    regions.

    Args:
        results: as returned by :func:`run`.
        function: which target function.

    Returns:
        a display DataFrame, one row per (depth, seed).
    """
    from hw1.report import table

    rows = []
    for depth, r in results[function].items():
        for seed, fit, pieces in zip(r["seeds"], r["fits"], r["linear_pieces"], strict=True):
            rows.append({"hidden layers": depth, "seed": seed,
                         "MSE after Adam": fit["start_loss"], "final MSE": fit["loss"],
                         "finish ended in": _ending(fit["reason"]),
                         "LM trial steps": fit["iterations"], "LM kept steps": fit["accepted"],
                         "MSE change, last 50 kept steps (%)": _last_change(fit["loss_trace"]),
                         "gradient norm at end": fit["grad_norm"],
                         "activation regions": pieces})
    return table(rows)


def lr_table(results: dict):
    """Per function and depth: the median over seeds of Adam's final loss at each learning
    rate of the grid, and the rate that won (lowest median).

    Args:
        results: as returned by :func:`run`.

    Returns:
        a display DataFrame, one row per (function, depth), one column per rate.
    """
    from hw1.report import table

    rows = []
    for function, by_depth in results.items():
        for depth, r in by_depth.items():
            rows.append({"target": target_function(function).formula, "hidden layers": depth,
                         **{f"lr {lr:g}": float(np.median(losses))
                            for lr, losses in zip(r["lrs"], r["adam_final_loss"], strict=True)},
                         "best lr": r["best_lr"]})
    return table(rows)


def figure_training_loss(results: dict) -> plt.Figure:
    """Per function (column): every seed's Adam-phase training loss at each depth's best rate
    (top) and its Levenberg–Marquardt finish (bottom), the end of each finish marked by how it
    ended; saved as ``simulate_function_training_loss``.

    Args:
        results: as returned by :func:`run`.

    Returns:
        the figure.
    """
    from matplotlib.lines import Line2D

    markers = {"plateau": "o", "stalled": "s", "step cap": ">"}
    fns = list(results)
    fig, axes = plt.subplots(2, len(fns), figsize=(5.2 * len(fns), 8.2), squeeze=False)
    for col, fn in enumerate(fns):
        ax_adam, ax_lm = axes[0, col], axes[1, col]
        formula = target_function(fn).formula
        ended = set()
        for i, (depth, r) in enumerate(results[fn].items()):
            best = r["lrs"].index(r["best_lr"])
            n = len(r["seeds"])
            curves = np.array(r["adam_loss_curves"][best * n:(best + 1) * n])
            color = f"C{i}"
            for k, fit in enumerate(r["fits"]):
                label = f"{_layers(depth)}, lr {r['best_lr']:g}" if k == 0 else None
                ax_adam.plot(r["steps"], curves[k], color=color, lw=0.8, label=label)
                trace = [fit["start_loss"], *fit["loss_trace"]]
                ending = _ending(fit["reason"])
                ended.add(ending)
                ax_lm.plot(np.arange(len(trace)), trace, color=color, lw=0.8)
                ax_lm.plot(len(trace) - 1, trace[-1], marker=markers[ending], color=color,
                           mfc="none", ms=7, ls="none", clip_on=False)
        ax_adam.set(yscale="log", xlabel="full-batch Adam step (cosine-decayed rate)",
                    ylabel="training MSE", title=f"{formula}: Adam phase")
        ax_lm.set(yscale="log", xscale="symlog", xlabel="kept Levenberg–Marquardt step",
                  ylabel="training MSE", title=f"{formula}: Levenberg–Marquardt finish")
        ax_lm.set_xlim(left=0)
        lines, labels = ax_adam.get_legend_handles_labels()
        ends = [Line2D([], [], color="0.3", marker=m, mfc="none", ms=7, ls="none",
                       label=f"end: {e}") for e, m in markers.items() if e in ended]
        ax_lm.legend(handles=lines + ends, labels=labels + [h.get_label() for h in ends],
                     loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
                     title="colour: depth (its best rate); marker: how the finish ended")
    fig.suptitle("Training MSE of every seed at each depth's best learning rate")
    fig.tight_layout()
    save_figure(fig, "simulate_function_training_loss")
    return fig


def figure_predictions(results: dict, residual: tuple[str, ...] = ("sinc",)) -> plt.Figure:
    """Every seed's prediction after the finish, one panel per (depth, function), each seed's
    final training MSE in the panel title; saved as ``simulate_function_predictions``. For the
    functions in ``residual`` (fits too close to the target to tell apart), the panel shows
    prediction minus target instead.

    Args:
        results: as returned by :func:`run`.
        residual: the functions drawn as residuals.

    Returns:
        the figure.
    """
    from hw1.report import num

    fns = list(results)
    depths = list(next(iter(results.values())))
    fig, axes = plt.subplots(len(depths), len(fns), figsize=(5.2 * len(fns),
                             2.9 * len(depths) + 0.6), squeeze=False, sharex=True)
    for col, fn in enumerate(fns):
        target = target_function(fn)
        for row, depth in enumerate(depths):
            ax, r = axes[row, col], results[fn][depth]
            grid = np.asarray(r["grid"])
            truth = target.fn(torch.as_tensor(grid)).numpy()
            if fn in residual:
                ax.axhline(0.0, color="black", lw=2.5, alpha=0.25)
            else:
                ax.plot(grid, truth, color="black", lw=2.5, alpha=0.25, label="ground truth")
            for k, seed in enumerate(r["seeds"]):
                pred = np.asarray(r["predictions"])[k]
                ax.plot(grid, pred - truth if fn in residual else pred, lw=0.9,
                        color=f"C{k}", label=f"seed {seed}")
            mse = ", ".join(num(f["loss"]) for f in r["fits"])
            ax.set(ylabel="prediction − target" if fn in residual else "y",
                   title=f"{target.formula}, {_layers(depth)}\nfinal MSE by seed: {mse}")
            ax.set_xticks(np.linspace(-1, 1, 5))
        axes[-1, col].set_xlabel("x")
        if fn in residual:
            # one symmetric y-range for the whole column, so depths compare by eye
            top = max(max(abs(v) for v in axes[row, col].get_ylim()) for row in range(len(depths)))
            for row in range(len(depths)):
                axes[row, col].set_ylim(-top, top)
    plain = [c for c, fn in enumerate(fns) if fn not in residual]
    handles, labels = axes[0, plain[0] if plain else 0].get_legend_handles_labels()
    shown = [target_function(fn).formula for fn in fns if fn in residual]
    note = f"; {', '.join(shown)}: prediction minus target" if shown else ""
    fig.suptitle("Every seed's prediction after the finish, at each depth's best learning rate"
                 + note)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), bbox_to_anchor=(0.5, 0))
    save_figure(fig, "simulate_function_predictions")
    return fig


def make_figures(results: dict) -> list[plt.Figure]:
    """Every figure of the notebook (:func:`figure_predictions`,
    :func:`figure_training_loss`), for ``python -m hw1.figures``.

    Args:
        results: as returned by :func:`run`.

    Returns:
        the figures, in the notebook's order.
    """
    return [figure_predictions(results), figure_training_loss(results)]
