"""The compute path of the function-simulation experiment: its settings, the rate selection,
the training of the evaluation seeds and their Levenberg–Marquardt finish."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import numpy as np
import torch

from hw1.config import ExperimentConfig
from hw1.data import TARGET_FUNCTIONS, target_function
from hw1.ensemble import train_ensemble
from hw1.least_squares import fit_least_squares
from hw1.metrics import linear_regions
from hw1.models import count_params, mlp_with_params, widths_of
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
        lrs: the learning-rate grid the rate is chosen from.
        selection_seeds: initializations that choose the rate (lowest median final Adam loss
            over them); they are not among ``seeds``.
        record_every: record the training loss every this many steps.
        lm_max_iter, lm_rel_tol, lm_patience: the Levenberg–Marquardt finish and its plateau
            criterion (``lm_patience`` trial steps in a row each lowering the loss by less than
            ``lm_rel_tol`` relative).
        grid_points: evenly spaced points on which predictions and linear pieces are read.
        success_fraction: a seed succeeds when its finished training MSE is below this
            fraction of the best constant predictor's MSE (``0.01``: R² above 0.99).
        seeds: the evaluation initializations, all trained at the chosen rate and finished.
    """

    name: ClassVar[str] = "simulate_function"
    positive: ClassVar[tuple[str, ...]] = ("depths", "n_params", "n_points", "steps", "lrs",
                                           "record_every", "lm_max_iter", "lm_rel_tol",
                                           "lm_patience", "grid_points", "success_fraction")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"functions": tuple(TARGET_FUNCTIONS)}
    functions: tuple[str, ...] = ("sinc", "square_wave")
    depths: tuple[int, ...] = (1, 2, 5)
    n_params: int = 750
    n_points: int = 500
    steps: int = 6000
    lrs: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
    selection_seeds: tuple[int, ...] = (100, 101, 102)
    record_every: int = 20
    lm_max_iter: int = 1000
    lm_rel_tol: float = 1e-8
    lm_patience: int = 10
    grid_points: int = 20001
    success_fraction: float = 0.01
    seeds: tuple[int, ...] = tuple(range(10))

    def __post_init__(self) -> None:
        super().__post_init__()
        if set(self.selection_seeds) & set(self.seeds):
            raise ValueError("selection_seeds and seeds must be disjoint (the rate is chosen on "
                             f"other seeds than those reported); both hold "
                             f"{sorted(set(self.selection_seeds) & set(self.seeds))}")
        if not self.selection_seeds:
            raise ValueError("selection_seeds must not be empty")


Config.register(full=Config(), smoke=Config(n_params=300, n_points=128, steps=30, record_every=5,
                                            lrs=(3e-3, 3e-2), selection_seeds=(100,),
                                            lm_max_iter=5, grid_points=501, seeds=(0, 1, 2)))


def _stacked_adam(cfg: Config, x: torch.Tensor, y: torch.Tensor, depth: int,
                  runs: list[tuple[float, int]], desc: str):
    """Train one model per ``(lr, seed)`` in ``runs`` (seed = initialization and batch order)
    as one stacked ensemble; returns ``(histories, ensemble)``."""
    models = []
    for _, seed in runs:
        torch.manual_seed(seed)
        models.append(mlp_with_params(cfg.n_params, depth))
    return train_ensemble(models, x, y, epochs=cfg.steps, batch_size=cfg.n_points,
                          lr=[lr for lr, _ in runs], seeds=[s for _, s in runs], loss="mse",
                          schedule="cosine", record_every=cfg.record_every, desc=desc)


def choose_rate(final_losses: np.ndarray) -> int:
    """The selection rule: the index of the rate (row) with the lowest median final loss over
    the selection seeds (columns); a non-finite loss (a diverged run) counts as +inf.

    Args:
        final_losses: ``(n_lrs, n_selection_seeds)``.

    Returns:
        the winning row (the first of tied rows).
    """
    losses = np.asarray(final_losses, dtype=float)
    return int(np.argmin(np.median(np.where(np.isfinite(losses), losses, np.inf), axis=1)))


def _train_one(cfg: Config, function: str, depth: int) -> tuple[dict, str]:
    target = target_function(function)
    x, y = target.sample(cfg.n_points)
    hists, _ = _stacked_adam(cfg, x, y, depth,
                             [(lr, s) for lr in cfg.lrs for s in cfg.selection_seeds],
                             f"{function}, depth {depth}: rate selection")
    selection = np.array([h.train_loss[-1] for h in hists]).reshape(len(cfg.lrs), -1)
    best_lr = cfg.lrs[choose_rate(selection)]
    hists, ens = _stacked_adam(cfg, x, y, depth, [(best_lr, s) for s in cfg.seeds],
                               f"{function}, depth {depth}: evaluation seeds")
    grid, _ = target.sample(cfg.grid_points)
    fits, predictions, pieces = [], [], []
    for model in ens.models():
        fit = fit_least_squares(model, x, y, max_iter=cfg.lm_max_iter, rel_tol=cfg.lm_rel_tol,
                                patience=cfg.lm_patience)
        with torch.no_grad():
            predictions.append(fit["model"](grid.double())[:, 0].float())
        pieces.append(linear_regions(fit["model"], grid.double()))
        fits.append({k: fit[k] for k in ("loss", "start_loss", "grad_norm", "converged",
                                         "reason", "iterations", "accepted", "loss_trace")})
    result = {"steps": hists[0].epoch, "adam_loss_curves": [h.train_loss for h in hists],
              "lrs": list(cfg.lrs), "selection_seeds": list(cfg.selection_seeds),
              "selection_final_loss": selection.tolist(), "seeds": list(cfg.seeds),
              "best_lr": best_lr, "fits": fits, "linear_pieces": pieces,
              "constant_mse": float(y.var(unbiased=False)),
              "n_params": count_params(ens.models()[0]), "widths": widths_of(ens.models()[0]),
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
        ``results[function][depth]`` with ``selection_final_loss`` ``(n_lrs,
        n_selection_seeds)`` (Adam's final loss on the selection seeds), ``best_lr`` (the
        chosen rate), and for the evaluation ``seeds`` at that rate: ``steps`` ``(T,)``,
        ``adam_loss_curves`` (one ``(T,)`` list per seed), ``fits`` (one dict per seed:
        ``loss``, ``start_loss``, ``grad_norm``, ``reason``, ``iterations``, ``accepted``,
        ``loss_trace``), ``linear_pieces`` (per seed), ``constant_mse`` (the best constant
        predictor's training MSE), ``n_params``, ``widths``, ``grid`` ``(G,)`` and
        ``predictions`` ``(n_seeds, G)``.
    """
    shared = {k: v for k, v in cfg.to_dict().items() if k not in ("functions", "depths")}
    grid = [(f, d) for f in cfg.functions for d in cfg.depths]
    items = [({**shared, "function": f, "depth": d}, list(cfg.seeds)) for f, d in grid]
    runs = RunStore(cfg.name).sweep(items, partial(_unit, cfg), executor=executor)
    results: dict[str, dict[int, dict]] = {f: {} for f in cfg.functions}
    for (f, d), stored in zip(grid, runs, strict=True):
        results[f][d] = stored.result
    return results
