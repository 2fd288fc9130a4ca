"""HW1-2 (what happens when the gradient norm is almost zero): 100 small networks driven to
critical points (loss descent, then gradient-norm descent), each with its exact Hessian and
minimal ratio (the fraction of positive eigenvalues)."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LogNorm
from torch import nn

from hw1.config import ExperimentConfig
from hw1.critical import find_critical_points
from hw1.data import TARGET_FUNCTIONS, target_function
from hw1.metrics import hessian_spectrum
from hw1.models import count_params, mlp
from hw1.plotting import save_figure
from hw1.store import RunStore


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the minimal-ratio experiment.

    Attributes:
        function, n_points: the 1-D training task (full-batch).
        widths: hidden widths of the small MLP (hundreds of parameters).
        runs: independent runs (seeds 0..runs-1), vectorized across runs.
        phase1_steps, phase1_lr: Adam on the MSE.
        phase2_steps, phase2_lr: Adam on ‖∇L‖², at most this many steps.
        threshold: gradient norm below which a run counts as at a critical point.
    """

    name: ClassVar[str] = "minimal_ratio"
    positive: ClassVar[tuple[str, ...]] = ("n_points", "widths", "runs", "phase1_steps",
                                           "phase1_lr", "phase2_lr", "threshold")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"function": tuple(TARGET_FUNCTIONS)}
    function: str = "sinc"
    n_points: int = 256
    widths: tuple[int, ...] = (16, 16)
    runs: int = 100
    phase1_steps: int = 1500
    phase1_lr: float = 1e-2
    phase2_steps: int = 1500
    phase2_lr: float = 1e-3
    threshold: float = 1e-3


Config.register(full=Config(), smoke=Config(n_points=64, widths=(6, 6), runs=4, phase1_steps=30,
                                            phase2_steps=30))


def _compute(cfg: Config) -> tuple[dict, str, dict]:
    target = target_function(cfg.function)
    x, y = target.sample(cfg.n_points)
    models = []
    for seed in range(cfg.runs):
        torch.manual_seed(seed)
        models.append(mlp(1, list(cfg.widths), 1))
    loss_fn = nn.functional.mse_loss
    res = find_critical_points(models, loss_fn, x, y, phase1_steps=cfg.phase1_steps,
                               phase1_lr=cfg.phase1_lr, phase2_steps=cfg.phase2_steps,
                               phase2_lr=cfg.phase2_lr, threshold=cfg.threshold,
                               desc=f"{cfg.runs} runs")
    spectra = [hessian_spectrum(m, loss_fn, x, y) for m in res.models]
    eig = torch.stack([s["eigenvalues"] for s in spectra]).numpy()
    result = {"loss": res.loss, "grad_norm": res.grad_norm, "converged": res.converged,
              "phase2_steps": res.phase2_steps,
              "minimal_ratio": [s["minimal_ratio"] for s in spectra],
              "minimal_ratio_strict": (eig > 0).mean(axis=1),
              "positive": [s["positive"] for s in spectra],
              "near_zero": [s["near_zero"] for s in spectra],
              "negative": [s["negative"] for s in spectra], "tol": [s["tol"] for s in spectra],
              "n_params": count_params(models[0])}
    return (result, f"{cfg.n_points} points of {target.formula}",
            {"eigenvalues": eig, "grad_norm_trace": res.grad_norm_trace.numpy()})


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str, dict]:
    return _compute(cfg)


def run(cfg: Config, executor: Executor | None = None) -> dict:
    """Run (or load) all runs; per-run lists plus ``eigenvalues`` ``(R, P)``.

    Args:
        cfg: the experiment's settings.
        executor: where to run the vectorized search (one task); None: here.
    """
    [stored] = RunStore(cfg.name).sweep([(cfg.to_dict(), list(range(cfg.runs)))],
                                        partial(_unit, cfg), executor=executor)
    return {**stored.result, **stored.arrays}


def summary(results: dict) -> list[dict]:
    """Converged vs not: counts, loss and minimal-ratio ranges, near-zero eigenvalue counts."""
    conv = np.asarray(results["converged"], dtype=bool)
    loss, ratio = np.asarray(results["loss"]), np.asarray(results["minimal_ratio"])
    rows = []
    for label, mask in (("converged", conv), ("not converged", ~conv)):
        if not mask.any():
            rows.append({"runs": label, "count": 0})
            continue
        rows.append({"runs": label, "count": int(mask.sum()),
                     "loss_min": float(loss[mask].min()),
                     "loss_median": float(np.median(loss[mask])),
                     "loss_max": float(loss[mask].max()),
                     "ratio_min": float(ratio[mask].min()), "ratio_max": float(ratio[mask].max()),
                     "ratio_strict_median": float(np.median(
                         np.asarray(results["minimal_ratio_strict"])[mask])),
                     "near_zero_median": float(np.median(np.asarray(results["near_zero"])[mask])),
                     "negative_median": float(np.median(np.asarray(results["negative"])[mask]))})
    return rows


def loss_ratio_correlation(results: dict) -> float:
    """Spearman rank correlation of minimal ratio and loss over the converged runs (NaN if
    fewer than 3 converged)."""
    from scipy.stats import spearmanr

    conv = np.asarray(results["converged"], dtype=bool)
    if conv.sum() < 3:
        return float("nan")
    loss, ratio = np.asarray(results["loss"]), np.asarray(results["minimal_ratio"])
    return float(spearmanr(ratio[conv], loss[conv]).statistic)


def make_figures(results: dict) -> list[plt.Figure]:
    """Minimal ratio (x) vs loss (y), coloured by the final gradient norm."""
    conv = np.asarray(results["converged"], dtype=bool)
    loss, ratio = np.asarray(results["loss"]), np.asarray(results["minimal_ratio"])
    gn = np.asarray(results["grad_norm"])
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    norm = LogNorm(vmin=max(gn.min(), 1e-12), vmax=gn.max() * 1.0001)
    sc = ax.scatter(ratio[conv], loss[conv], c=gn[conv], norm=norm, cmap="viridis", s=18,
                    label=f"reached ‖∇L‖ < threshold ({conv.sum()})")
    if (~conv).any():
        ax.scatter(ratio[~conv], loss[~conv], c=gn[~conv], norm=norm, cmap="viridis",
                   marker="x", s=30, label=f"hit the step limit ({(~conv).sum()})")
    fig.colorbar(sc, ax=ax, label="final gradient norm")
    ax.set(xlabel="minimal ratio (fraction of Hessian eigenvalues > tol)",
           ylabel="training loss (MSE, full set)", yscale="log",
           title=f"{len(loss)} runs of a {results['n_params']}-parameter MLP at critical points")
    ax.legend(fontsize=7)
    save_figure(fig, "minimal_ratio_vs_loss")
    return [fig]
