"""HW1-2 (what happens when the gradient norm is almost zero): 100 small networks driven to
critical points (loss descent, then gradient-norm descent), refined in float64, each with its
exact Hessian spectrum; the minimal ratio (fraction of positive eigenvalues) as a function of
the tolerance that decides what counts as zero; a tanh control without dead units."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from hw1.config import ExperimentConfig
from hw1.critical import find_critical_points, refine_critical_point
from hw1.data import TARGET_FUNCTIONS, target_function
from hw1.metrics import dead_relu_parameters, hessian_spectrum
from hw1.models import ACTIVATIONS, count_params, mlp
from hw1.plotting import save_figure
from hw1.progress import progress
from hw1.store import RunStore

#: relative tolerances τ (eigenvalues with |λ| <= τ·max|λ| count as zero) of the sweep
TAUS = np.concatenate([[0.0], 10.0 ** np.arange(-16, -1.99, 0.5)])


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the minimal-ratio experiment.

    Attributes:
        function, n_points: the 1-D training task (full-batch).
        widths: hidden widths of the small MLP (hundreds of parameters).
        activations: hidden activations to compare (ReLU; tanh as the control without dead
            units or continuous rescaling symmetries).
        runs: independent runs (seeds 0..runs-1) per activation, vectorized across runs.
        phase1_steps, phase1_lr: Adam on the MSE.
        phase2_steps, phase2_lr: Adam on ‖∇L‖², at most this many steps.
        threshold: gradient norm below which a run counts as at a critical point (float32).
        refine_tol, refine_max_iter: float64 Levenberg–Marquardt refinement of every end point
            (:func:`hw1.critical.refine_critical_point`) towards ‖∇L‖ <= refine_tol.
    """

    name: ClassVar[str] = "minimal_ratio"
    positive: ClassVar[tuple[str, ...]] = ("n_points", "widths", "runs", "phase1_steps",
                                           "phase1_lr", "phase2_lr", "threshold", "refine_tol",
                                           "refine_max_iter")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"function": tuple(TARGET_FUNCTIONS),
                                                     "activations": tuple(ACTIVATIONS)}
    function: str = "sinc"
    n_points: int = 256
    widths: tuple[int, ...] = (16, 16)
    activations: tuple[str, ...] = ("relu", "tanh")
    runs: int = 100
    phase1_steps: int = 1500
    phase1_lr: float = 1e-2
    phase2_steps: int = 1500
    phase2_lr: float = 1e-3
    threshold: float = 1e-3
    refine_tol: float = 1e-6
    refine_max_iter: int = 40


Config.register(full=Config(), smoke=Config(n_points=64, widths=(6, 6), runs=4, phase1_steps=30,
                                            phase2_steps=30, refine_max_iter=3))


def _compute(cfg: Config, activation: str) -> tuple[dict, str, dict]:
    target = target_function(cfg.function)
    x, y = target.sample(cfg.n_points)
    models = []
    for seed in range(cfg.runs):
        torch.manual_seed(seed)
        models.append(mlp(1, list(cfg.widths), 1, activation=activation))
    loss_fn = nn.functional.mse_loss
    res = find_critical_points(models, loss_fn, x, y, phase1_steps=cfg.phase1_steps,
                               phase1_lr=cfg.phase1_lr, phase2_steps=cfg.phase2_steps,
                               phase2_lr=cfg.phase2_lr, threshold=cfg.threshold,
                               desc=f"{cfg.runs} {activation} runs")
    x64, y64 = x.double(), y.double()
    eig32, eig64, refined, dead = [], [], [], []
    for model in progress(res.models, desc=f"{activation}: refine + spectra", leave=False):
        eig32.append(hessian_spectrum(model, loss_fn, x, y)["eigenvalues"])
        fit = refine_critical_point(model, loss_fn, x, y, tol=cfg.refine_tol,
                                    max_iter=cfg.refine_max_iter)
        eig64.append(hessian_spectrum(fit["model"], loss_fn, x64, y64)["eigenvalues"])
        refined.append({k: fit[k] for k in ("loss", "grad_norm", "converged", "reason",
                                             "iterations", "distance")})
        if activation == "relu":
            d = dead_relu_parameters(fit["model"], x64)
            dead.append({k: d[k] for k in ("dead_parameters", "dead_units", "alive_units")})
    result = {"activation": activation, "loss": res.loss, "grad_norm": res.grad_norm,
              "converged": res.converged, "phase2_steps": res.phase2_steps,
              "refined": refined, "dead": dead, "n_params": count_params(models[0])}
    return (result, f"{cfg.n_points} points of {target.formula}",
            {"eigenvalues": torch.stack(eig32).numpy(),
             "refined_eigenvalues": torch.stack(eig64).numpy()})


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str, dict]:
    return _compute(cfg, spec["activation"])


def run(cfg: Config, executor: Executor | None = None) -> dict[str, dict]:
    """Run (or load) every activation's runs.

    Args:
        cfg: the experiment's settings.
        executor: runs the missing activations' searches (one task each); None: here.

    Returns:
        ``results[activation]``: per-run lists ``loss``, ``grad_norm``, ``converged`` (the
        float32 search), ``refined`` (one dict per run: ``loss``, ``grad_norm``, ``converged``,
        ``reason``, ``iterations``, ``distance``), ``dead`` (ReLU: per run ``dead_parameters``,
        ``dead_units``, ``alive_units``), ``eigenvalues`` and ``refined_eigenvalues`` ``(R, P)``.
    """
    shared = {k: v for k, v in cfg.to_dict().items() if k != "activations"}
    items = [({**shared, "activation": a}, list(range(cfg.runs))) for a in cfg.activations]
    runs = RunStore(cfg.name).sweep(items, partial(_unit, cfg), executor=executor)
    return {a: {**s.result, **s.arrays} for a, s in zip(cfg.activations, runs, strict=True)}


def ratio_vs_tau(eigenvalues: np.ndarray, taus: np.ndarray = TAUS) -> np.ndarray:
    """Minimal ratio of every run at every relative tolerance: ``(R, len(taus))``.

    Args:
        eigenvalues: ``(R, P)`` one spectrum per run.
        taus: relative tolerances; eigenvalue λ of a run counts as positive when
            ``λ > τ · max|λ|`` of that run.
    """
    eig = np.asarray(eigenvalues, dtype=float)
    scale = np.abs(eig).max(axis=1, keepdims=True)  # (R, 1)
    return (eig[:, :, None] > taus[None, None, :] * scale[:, :, None]).mean(axis=1)


def counts(eigenvalues: np.ndarray, tau: float) -> dict[str, np.ndarray]:
    """Per run: eigenvalues below ``-τ·max|λ|``, within ``±τ·max|λ|`` and above: ``(R,)`` each."""
    eig = np.asarray(eigenvalues, dtype=float)
    level = tau * np.abs(eig).max(axis=1, keepdims=True)
    neg, pos = (eig < -level).sum(1), (eig > level).sum(1)
    return {"negative": neg, "near_zero": eig.shape[1] - neg - pos, "positive": pos}


def sign_stable_tau(r: dict, taus: np.ndarray = TAUS) -> np.ndarray:
    """Per run, the smallest τ of the sweep from which on the number of *negative* eigenvalues
    (λ < −τ·max|λ|) agrees at the float32 end point and at its refined point, ``(R,)``.

    The two points are nearby points of one run; a negative eigenvalue present at one and not
    at the other is not resolved by either. Only the negative count is compared: positive
    eigenvalues crossing the cutoff τ·max|λ| change the positive count for reasons of size,
    not sign. ``inf`` if the counts never agree on the grid.
    """
    out = np.full(len(r["refined"]), np.inf)
    for i, (a, b) in enumerate(zip(r["eigenvalues"], r["refined_eigenvalues"], strict=True)):
        agree = [counts(a[None], t)["negative"][0] == counts(b[None], t)["negative"][0]
                 for t in taus]
        for j in range(len(taus)):
            if all(agree[j:]):
                out[i] = taus[j]
                break
    return out


def headline_tau(results: dict) -> float:
    """The headline tolerance: the 90th percentile over every run of every activation of
    :func:`sign_stable_tau` (a value of the sweep's grid)."""
    stable = np.concatenate([sign_stable_tau(r) for r in results.values()])
    return float(np.percentile(stable, 90, method="higher"))


def negative_curvature_table(results: dict) -> list[dict]:
    """Per activation, over the refined end points: the most negative eigenvalue relative to
    max|λ| against the gradient norm relative to max|λ| (quantiles, and their Spearman rank
    correlation), and how many refined points have ‖∇L‖ above 1e-5 and 1e-4."""
    from scipy.stats import spearmanr

    rows = []
    for act, r in results.items():
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        scale = np.abs(eig).max(1)
        lam_min = np.clip(-eig.min(1), 0, None) / scale
        grad = np.array([f["grad_norm"] for f in r["refined"]]) / scale
        rows.append({"activation": act,
                     "neg_over_max_median": float(np.median(lam_min)),
                     "neg_over_max_max": float(lam_min.max()),
                     "grad_over_max_median": float(np.median(grad)),
                     "spearman_neg_vs_grad": float(spearmanr(lam_min, grad).statistic),
                     "refined_grad_above_1e-5": int((grad * scale > 1e-5).sum()),
                     "refined_grad_above_1e-4": int((grad * scale > 1e-4).sum())})
    return rows


def correlation_vs_tau(results: dict, taus: tuple[float, ...] = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2),
                       resamples: int = 2000, seed: int = 0) -> list[dict]:
    """Spearman rank correlation of minimal ratio and loss per activation and τ, with a 95%
    percentile-bootstrap interval over runs, and the number of distinct ratio values."""
    from scipy.stats import spearmanr

    rows = []
    rng = np.random.default_rng(seed)
    for act, r in results.items():
        loss = np.array([f["loss"] for f in r["refined"]])
        idx = rng.integers(0, len(loss), size=(resamples, len(loss)))
        for tau in taus:
            ratio = ratio_vs_tau(r["refined_eigenvalues"], np.array([tau]))[:, 0]
            rho = float(spearmanr(ratio, loss).statistic)
            boot = np.array([spearmanr(ratio[k], loss[k]).statistic for k in idx])
            low, high = np.nanpercentile(boot, [2.5, 97.5])
            rows.append({"activation": act, "tau": tau, "spearman": rho,
                         "ci95_low": float(low), "ci95_high": float(high),
                         "distinct_ratios": int(len(np.unique(ratio)))})
    return rows


def resolution_table(results: dict) -> list[dict]:
    """Per activation: gradient norms at the end points and after refinement, the distance
    moved, and the sign-stable tolerance (:func:`sign_stable_tau`), as quantiles over runs."""
    rows = []
    for act, r in results.items():
        res = sign_stable_tau(r)
        rows.append({"activation": act,
                     "grad_norm_median_end": float(np.median(r["grad_norm"])),
                     "grad_norm_median_refined": float(np.median(
                         [f["grad_norm"] for f in r["refined"]])),
                     "distance_median": float(np.median([f["distance"] for f in r["refined"]])),
                     "stable_tau_median": float(np.median(res)),
                     "stable_tau_p90": float(np.percentile(res, 90, method="higher")),
                     "stable_tau_max": float(res.max())})
    return rows


def loss_half_table(results: dict, tau: float) -> list[dict]:
    """Per activation: median counts of positive and near-zero eigenvalues at ``tau`` in the
    lower-loss and the higher-loss half of the runs (split at the median loss)."""
    rows = []
    for act, r in results.items():
        loss = np.array([f["loss"] for f in r["refined"]])
        low = loss <= np.median(loss)
        c = counts(r["refined_eigenvalues"], tau)
        for name, sel in (("lower-loss half", low), ("higher-loss half", ~low)):
            rows.append({"activation": act, "runs": name, "count": int(sel.sum()),
                         "positive_median": float(np.median(c["positive"][sel])),
                         "near_zero_median": float(np.median(c["near_zero"][sel])),
                         "negative_max": int(c["negative"][sel].max())})
    return rows


def refinement_table(results: dict) -> list[dict]:
    """Per activation: how many runs reached each gradient-norm level, before and after the
    float64 refinement, and why the others stopped."""
    rows = []
    for act, r in results.items():
        before = np.asarray(r["grad_norm"], dtype=float)
        after = np.array([f["grad_norm"] for f in r["refined"]])
        reasons = [f["reason"] for f in r["refined"]]
        rows.append({"activation": act, "runs": len(after),
                     "float32 search <= 1e-3": int((before <= 1e-3).sum()),
                     "refined <= 1e-6": int((after <= 1e-6).sum()),
                     "refined <= 1e-9": int((after <= 1e-9).sum()),
                     "stalled": reasons.count("stalled"),
                     "max_iter": reasons.count("max_iter"),
                     "grad_norm_median_after": float(np.median(after))})
    return rows


def tau_table(results: dict, taus: tuple[float, ...] = (0.0, 1e-14, 1e-12, 1e-10, 1e-8, 1e-6,
                                                       1e-4, 1e-3, 1e-2)) -> list[dict]:
    """Median (min–max) minimal ratio over the refined end points, per activation and τ."""
    rows = []
    for act, r in results.items():
        ratios = ratio_vs_tau(r["refined_eigenvalues"], np.array(taus))
        for j, tau in enumerate(taus):
            rows.append({"activation": act, "tau": tau, "runs": len(ratios),
                         "ratio_median": float(np.median(ratios[:, j])),
                         "ratio_min": float(ratios[:, j].min()),
                         "ratio_max": float(ratios[:, j].max())})
    return rows


def count_table(results: dict, tau: float) -> list[dict]:
    """Per activation, at relative tolerance ``tau``: min/median/max over the refined end
    points of the negative, near-zero and positive eigenvalue counts, with the ReLU runs'
    dead-unit parameters and alive units beside them."""
    rows = []
    for act, r in results.items():
        c = counts(r["refined_eigenvalues"], tau)
        if r["dead"]:
            c["dead_unit_parameters"] = np.array([d["dead_parameters"] for d in r["dead"]])
            c["alive_units"] = np.array([d["alive_units"] for d in r["dead"]])
        for what, v in c.items():
            rows.append({"activation": act, "count": what, "min": int(v.min()),
                         "median": float(np.median(v)), "max": int(v.max())})
    return rows


def zero_explanation(results: dict, tau: float = 1e-12) -> list[dict]:
    """Where the (numerically) exact zeros come from, per activation at ``tau``: the near-zero
    count, how many eigenvalues lie below the rounding level P·eps·max|λ|, and for ReLU the
    dead-unit parameters (exact zero rows of H), their rank correlation with the near-zero
    count and the excess of zeros over them."""
    from scipy.stats import spearmanr

    rows = []
    for act, r in results.items():
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        zeros = counts(eig, tau)["near_zero"]
        floor = eig.shape[1] * np.finfo(np.float64).eps * np.abs(eig).max(1, keepdims=True)
        row = {"activation": act, "tau": tau, "near_zero_median": float(np.median(zeros)),
               "below_P_eps_median": float(np.median((np.abs(eig) <= floor).sum(1)))}
        if r["dead"]:
            dead = np.array([d["dead_parameters"] for d in r["dead"]])
            row.update({"dead_params_median": float(np.median(dead)),
                        "spearman_zeros_vs_dead": float(spearmanr(zeros, dead).statistic),
                        "excess_median": float(np.median(zeros - dead)),
                        "excess_min": int((zeros - dead).min()),
                        "excess_max": int((zeros - dead).max())})
        rows.append(row)
    return rows


def make_figures(results: dict) -> list[plt.Figure]:
    """The τ sweep; minimal ratio vs loss and negative curvature vs gradient norm; the spectra
    relative to max|λ|."""
    acts = list(results)
    colors = {"relu": "tab:blue", "tanh": "tab:orange"}
    tau_h = headline_tau(results)
    P = next(iter(results.values()))["refined_eigenvalues"].shape[1]
    floor = P * np.finfo(np.float64).eps

    fig_tau, ax = plt.subplots(figsize=(6.8, 4.4))
    positive = TAUS > 0
    for act in acts:
        r = results[act]
        for eig, style, what in ((r["eigenvalues"], "--", "float32-trained end points"),
                                 (r["refined_eigenvalues"], "-", "after refinement")):
            ratios = ratio_vs_tau(eig)
            med = np.median(ratios, 0)
            ax.plot(TAUS[positive], med[positive], style, color=colors.get(act),
                    label=f"{act}: {what} (median)")
            ax.plot([1e-17], [med[0]], "o" if style == "-" else "s", mfc="none",
                    color=colors.get(act))
            if style == "-":
                ax.fill_between(TAUS[positive], np.percentile(ratios, 10, 0)[positive],
                                np.percentile(ratios, 90, 0)[positive], color=colors.get(act),
                                alpha=0.2, linewidth=0)
    ax.axvspan(1e-17 * 0.5, floor, color="grey", alpha=0.12, lw=0,
               label=f"below rounding (τ < P·eps = {floor:.0e})")
    ax.axvline(tau_h, color="black", lw=0.8, label=f"headline τ = {tau_h:g}")
    ax.set(xscale="log", xlabel="relative tolerance τ (|λ| ≤ τ·max|λ| counts as zero); "
                                 "markers at the left: τ = 0",
           ylabel="minimal ratio", ylim=(0, 0.6),
           title="Minimal ratio vs tolerance (band: 10–90% of runs after refinement)")
    ax.legend(fontsize=7, loc="upper right")
    save_figure(fig_tau, "minimal_ratio_vs_tolerance")

    fig, axes = plt.subplots(1, 3, figsize=(16.5, 4.6))
    rng = np.random.default_rng(0)
    for act in acts:
        r = results[act]
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        loss = np.array([f["loss"] for f in r["refined"]])
        ratio = counts(eig, tau_h)["positive"] / P
        jitter = rng.uniform(-0.3, 0.3, len(ratio)) / P
        axes[0].scatter(ratio + jitter, loss, s=12, alpha=0.7, color=colors.get(act),
                        label=f"{act} ({len(loss)} runs)")
        scale = np.abs(eig).max(1)
        lam_min = np.clip(-eig.min(1), 1e-300, None) / scale
        grad = np.array([f["grad_norm"] for f in r["refined"]]) / scale
        axes[1].scatter(grad, np.clip(lam_min, 1e-18, None), s=12, alpha=0.7,
                        color=colors.get(act), label=act)
        index = counts(eig, 1e-12)["negative"] / P
        axes[2].scatter(index, loss, s=12, facecolors="none", edgecolors=colors.get(act),
                        label=f"{act}, τ = 1e-12")
        axes[2].scatter(counts(eig, tau_h)["negative"] / P, loss, s=12, marker="x",
                        color=colors.get(act), label=f"{act}, τ = {tau_h:g} (all 0)")
    axes[0].set(xlabel=f"minimal ratio at τ = {tau_h:g} (jittered by ±0.3/P; values are k/P)",
                ylabel="training loss (MSE)", yscale="log", title="Minimal ratio vs loss")
    axes[0].legend(fontsize=8)
    lims = np.array([1e-8, 1e-3])
    axes[1].plot(lims, lims, color="grey", lw=0.8, label="equal")
    axes[1].axhline(tau_h, color="black", lw=0.8, label=f"headline τ = {tau_h:g}")
    axes[1].set(xscale="log", yscale="log", xlabel="‖∇L‖ / max|λ| after refinement",
                ylabel="|most negative λ| / max|λ|",
                title="Negative curvature vs gradient norm (index is 0 above the black line)")
    axes[1].legend(fontsize=8)
    axes[2].set(xlabel="index (fraction of λ < −τ·max|λ|)", ylabel="training loss (MSE)",
                yscale="log", title="Index vs loss (τ = 1e-12 is below the sign resolution)")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, "minimal_ratio_vs_loss")

    fig_h, axes = plt.subplots(2, len(acts), figsize=(5.5 * len(acts), 8.4), squeeze=False)
    bins = np.arange(-20, 0.01, 0.5)
    for col, act in enumerate(acts):
        r = results[act]
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        rel = eig / np.abs(eig).max(1, keepdims=True)
        loss = np.array([f["loss"] for f in r["refined"]])
        low = loss <= np.median(loss)
        parts = ((axes[0, col], (("all runs", np.ones_like(low), "-"),), "pooled"),
                 (axes[1, col], (("lower-loss half", low, "-"),
                                 ("higher-loss half", ~low, ":")), "by loss"))
        for ax, selections, what in parts:
            for name, sel, style in selections:
                for sign, color, sname in ((1, "tab:green", "λ > 0"), (-1, "tab:red", "λ < 0")):
                    part = rel[sel]
                    vals = np.log10(np.abs(part[np.sign(part) == sign]))
                    ax.hist(np.clip(vals, bins[0], bins[-1]), bins=bins, histtype="step",
                            color=color, ls=style, label=f"{sname}, {name}")
            ax.axvline(np.log10(tau_h), color="black", lw=0.8, label=f"headline τ = {tau_h:g}")
            ax.axvline(np.log10(floor), color="grey", lw=0.8, ls="--", label="P·eps")
            ax.set(xlabel="log10(|λ| / max|λ|)  (values below −20 in the first bin)",
                   ylabel="eigenvalues (summed over runs)",
                   title=f"{act}: spectra after refinement, {what} "
                         f"({int((rel == 0).sum())} exactly 0, not shown)")
            ax.set_yscale("symlog", linthresh=1)
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    fig_h.tight_layout()
    save_figure(fig_h, "minimal_ratio_spectrum_histogram")
    return [fig_tau, fig, fig_h]
