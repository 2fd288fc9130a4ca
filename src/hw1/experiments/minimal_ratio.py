"""HW1-2 (what happens when the gradient norm is almost zero): 100 small networks driven to
critical points (loss descent, then gradient-norm descent), refined in float64, each with its
exact Hessian spectrum; the minimal ratio (fraction of positive eigenvalues) as a function of
the relative cutoff λ_cut below which an eigenvalue counts as zero; a tanh control without
dead units."""

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

#: relative cutoffs λ_cut of the sweep (eigenvalues with |λ| <= λ_cut·max|λ| count as zero)
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


def ratio_vs_cutoff(eigenvalues: np.ndarray, cutoffs: np.ndarray = TAUS) -> np.ndarray:
    """Minimal ratio of every run at every relative cutoff: ``(R, len(cutoffs))``.

    Args:
        eigenvalues: ``(R, P)`` one spectrum per run.
        cutoffs: relative cutoffs λ_cut; eigenvalue λ of a run counts as positive when
            ``λ > λ_cut · max|λ|`` of that run.
    """
    eig = np.asarray(eigenvalues, dtype=float)
    scale = np.abs(eig).max(axis=1, keepdims=True)  # (R, 1)
    return (eig[:, :, None] > cutoffs[None, None, :] * scale[:, :, None]).mean(axis=1)


def counts(eigenvalues: np.ndarray, cutoff: float) -> dict[str, np.ndarray]:
    """Per run: eigenvalues below ``-λ_cut·max|λ|``, within ``±λ_cut·max|λ|`` and above,
    ``(R,)`` each, for the relative cutoff ``cutoff`` (λ_cut)."""
    eig = np.asarray(eigenvalues, dtype=float)
    level = cutoff * np.abs(eig).max(axis=1, keepdims=True)
    neg, pos = (eig < -level).sum(1), (eig > level).sum(1)
    return {"negative": neg, "near_zero": eig.shape[1] - neg - pos, "positive": pos}


def sign_stable_cutoff(r: dict, cutoffs: np.ndarray = TAUS) -> np.ndarray:
    """Per run, the smallest cutoff λ_cut of the sweep from which on the number of *negative*
    eigenvalues (λ < −λ_cut·max|λ|) agrees at the float32 end point and at its refined point,
    ``(R,)``.

    The two points are nearby points of one run; a negative eigenvalue present at one and not
    at the other is not resolved by either. Only the negative count is compared: positive
    eigenvalues crossing the cutoff λ_cut·max|λ| change the positive count for reasons of
    size, not sign. ``inf`` if the counts never agree on the grid.
    """
    out = np.full(len(r["refined"]), np.inf)
    for i, (a, b) in enumerate(zip(r["eigenvalues"], r["refined_eigenvalues"], strict=True)):
        agree = [counts(a[None], t)["negative"][0] == counts(b[None], t)["negative"][0]
                 for t in cutoffs]
        for j in range(len(cutoffs)):
            if all(agree[j:]):
                out[i] = cutoffs[j]
                break
    return out


def headline_cutoff(results: dict) -> float:
    """The headline cutoff: the 90th percentile over every run of every activation of
    :func:`sign_stable_cutoff` (a value of the sweep's grid)."""
    stable = np.concatenate([sign_stable_cutoff(r) for r in results.values()])
    return float(np.percentile(stable, 90, method="higher"))


# --- tables: DataFrames for the notebook (hw1.report formatting), columns in plain words ---

def _name(activation: str) -> str:
    """Display name of an activation (``relu`` → ``ReLU``)."""
    return {"relu": "ReLU"}.get(activation, activation)


def _count(value: float) -> str:
    """A count or a median of counts, exactly (``29``, ``237.5``)."""
    return f"{float(value):g}"


def _median_range(values: np.ndarray) -> str:
    """``"median (lowest–highest)"`` of per-run counts ``(R,)``."""
    v = np.asarray(values)
    return f"{_count(np.median(v))} ({_count(v.min())}–{_count(v.max())})"


def _cut(cutoff: float) -> str:
    """A cutoff value as the tables print it: powers of ten as ``1e-4``, ``1e-12``, others
    with 3 significant digits (``3.16e-5``)."""
    from hw1.report import num

    c = float(cutoff)
    if 0 < c < np.inf:
        exponent = round(np.log10(c))
        if np.isclose(c, 10.0 ** exponent, rtol=1e-9):
            return f"1e{exponent}"
    return num(c)


def _spearman_or_nan(a, b) -> float:
    """Spearman rank correlation of ``a`` and ``b``, NaN (without a warning) when one is
    constant."""
    import warnings

    from scipy.stats import ConstantInputWarning, spearmanr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        return float(spearmanr(a, b).statistic)


def refinement_table(results: dict):
    """Per activation: how many runs reached each gradient-norm level before and after the
    float64 refinement, why the others stopped, and the median gradient norm and distance.

    Args:
        results: :func:`run`'s output.

    Returns:
        One row per activation (see the notebook for the columns).
    """
    from hw1.report import table

    rows = []
    for act, r in results.items():
        before = np.asarray(r["grad_norm"], dtype=float)
        after = np.array([f["grad_norm"] for f in r["refined"]])
        reasons = [f["reason"] for f in r["refined"]]
        rows.append({"activation": _name(act), "runs": len(after),
                     "‖∇L‖ ≤ 1e-3 after the float32 search": int((before <= 1e-3).sum()),
                     "‖∇L‖ ≤ 1e-6 after refinement": int((after <= 1e-6).sum()),
                     "refinement stalled": reasons.count("stalled"),
                     "refinement used all its steps": reasons.count("max_iter"),
                     "median ‖∇L‖, float32 end point": float(np.median(before)),
                     "median ‖∇L‖, refined point": float(np.median(after)),
                     "median distance moved ‖Δθ‖": float(np.median(
                         [f["distance"] for f in r["refined"]]))})
    return table(rows)


def resolution_table(results: dict):
    """Per activation: the sign-stable cutoff (:func:`sign_stable_cutoff`) as quantiles over
    runs.

    Args:
        results: :func:`run`'s output.

    Returns:
        One row per activation: median, 90th percentile and largest sign-stable cutoff.
    """
    from hw1.report import table

    rows = []
    for act, r in results.items():
        res = sign_stable_cutoff(r)
        rows.append({"activation": _name(act), "runs": len(res),
                     "sign-stable cutoff: median run": _cut(np.median(res)),
                     "90th percentile of runs": _cut(np.percentile(res, 90, method="higher")),
                     "largest (worst run)": _cut(res.max())})
    return table(rows)


def cutoff_table(results: dict, cutoffs: tuple[float, ...] = (0.0, 1e-14, 1e-12, 1e-10, 1e-8,
                                                              1e-6, 1e-4, 1e-3, 1e-2)):
    """Minimal ratio over the refined end points per cutoff: median and lowest–highest run,
    one column pair per activation.

    Args:
        results: :func:`run`'s output.
        cutoffs: the relative cutoffs λ_cut to show (rows).

    Returns:
        One row per cutoff.
    """
    from hw1.report import num, table

    ratios = {act: ratio_vs_cutoff(r["refined_eigenvalues"], np.array(cutoffs))
              for act, r in results.items()}
    rows = []
    for j, cutoff in enumerate(cutoffs):
        row = {"cutoff λ_cut": _cut(cutoff)}
        for act, x in ratios.items():
            row[f"{_name(act)}: median ratio"] = float(np.median(x[:, j]))
            row[f"{_name(act)}: lowest–highest run"] = (f"{num(x[:, j].min())}–"
                                                       f"{num(x[:, j].max())}")
        rows.append(row)
    return table(rows)


def median_ratio_interval(results: dict, cutoff: float, resamples: int = 2000,
                          seed: int = 0) -> str:
    """The median minimal ratio over runs at ``cutoff`` per activation, with its 95%
    percentile-bootstrap interval over runs, as one printable line.

    Args:
        results: :func:`run`'s output.
        cutoff: the relative cutoff λ_cut.
        resamples, seed: the bootstrap's resamples of the runs and its random seed.

    Returns:
        ``"ReLU 0.0561 [0.0530, 0.0592]; tanh ..."`` (median [95% CI]).
    """
    from hw1.report import num

    rng = np.random.default_rng(seed)
    parts = []
    for act, r in results.items():
        ratio = ratio_vs_cutoff(r["refined_eigenvalues"], np.array([cutoff]))[:, 0]
        idx = rng.integers(0, len(ratio), size=(resamples, len(ratio)))
        low, high = np.percentile(np.median(ratio[idx], axis=1), [2.5, 97.5])
        parts.append(f"{_name(act)} {num(float(np.median(ratio)))} [{num(float(low))}, "
                     f"{num(float(high))}]")
    return "; ".join(parts)


def count_table(results: dict, cutoffs: tuple[float, ...]):
    """Eigenvalue counts per run, as ``median (lowest–highest)`` over the refined end points,
    per activation and cutoff, with the ReLU runs' dead-unit parameters and alive units.

    Args:
        results: :func:`run`'s output.
        cutoffs: the relative cutoffs λ_cut to show (one column per activation and cutoff).

    Returns:
        One row per kind of count.
    """
    from hw1.report import table

    labels = {"negative": "negative (λ < −λ_cut·max|λ|)",
              "near_zero": "near zero (|λ| ≤ λ_cut·max|λ|)",
              "positive": "positive (λ > λ_cut·max|λ|)",
              "dead": "parameters of dead ReLU units",
              "alive": "alive hidden units"}
    cells: dict[str, dict[str, str]] = {k: {"count per run": v} for k, v in labels.items()}
    for act, r in results.items():
        for cutoff in cutoffs:
            column = f"{_name(act)}, λ_cut = {_cut(cutoff)}"
            c = counts(r["refined_eigenvalues"], cutoff)
            for key in ("negative", "near_zero", "positive"):
                cells[key][column] = _median_range(c[key])
            if r["dead"]:
                cells["dead"][column] = _median_range([d["dead_parameters"] for d in r["dead"]])
                cells["alive"][column] = _median_range([d["alive_units"] for d in r["dead"]])
    return table(list(cells.values()))


def zero_table(results: dict, cutoff: float = 1e-12):
    """Where the (numerically) exact zeros come from, per activation at ``cutoff``: the
    near-zero count, how many eigenvalues lie below the rounding level P·eps·max|λ|, and for
    ReLU the dead-unit parameters (exact zero rows of H), their rank correlation with the
    near-zero count and the excess of zeros over them.

    Args:
        results: :func:`run`'s output.
        cutoff: the relative cutoff λ_cut of the near-zero count.

    Returns:
        One row per activation (medians over runs).
    """
    from scipy.stats import spearmanr

    from hw1.report import table

    rows = []
    for act, r in results.items():
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        zeros = counts(eig, cutoff)["near_zero"]
        floor = eig.shape[1] * np.finfo(np.float64).eps * np.abs(eig).max(1, keepdims=True)
        row = {"activation": _name(act),
               f"near zero at λ_cut = {_cut(cutoff)}": _count(np.median(zeros)),
               "|λ| ≤ P·eps·max|λ|": _count(np.median((np.abs(eig) <= floor).sum(1)))}
        if r["dead"]:
            dead = np.array([d["dead_parameters"] for d in r["dead"]])
            alive = np.array([d["alive_units"] for d in r["dead"]])
            loss = np.array([f["loss"] for f in r["refined"]])
            row.update({"parameters of dead units": _count(np.median(dead)),
                        "Spearman: near zero vs dead": float(spearmanr(zeros, dead).statistic),
                        "near zero minus dead": _median_range(zeros - dead),
                        "Spearman: alive units vs loss": _spearman_or_nan(alive, loss)})
        rows.append(row)
    return table(rows)


def loss_half_table(results: dict, cutoff: float):
    """Per activation: median counts of positive and near-zero eigenvalues at ``cutoff`` in
    the lower-loss and the higher-loss half of the runs (split at the median loss).

    Args:
        results: :func:`run`'s output.
        cutoff: the relative cutoff λ_cut.

    Returns:
        Two rows per activation.
    """
    from hw1.report import table

    rows = []
    for act, r in results.items():
        loss = np.array([f["loss"] for f in r["refined"]])
        low = loss <= np.median(loss)
        c = counts(r["refined_eigenvalues"], cutoff)
        for name, sel in (("lower-loss half", low), ("higher-loss half", ~low)):
            rows.append({"activation": _name(act), "runs": f"{name} ({int(sel.sum())})",
                         "positive: median": _count(np.median(c["positive"][sel])),
                         "near zero: median": _count(np.median(c["near_zero"][sel])),
                         "negative: most in a run": int(c["negative"][sel].max())})
    return table(rows)


def negative_curvature_table(results: dict):
    """Per activation, over the refined end points: the most negative eigenvalue relative to
    max|λ| against the gradient norm relative to max|λ| (quantiles, and their Spearman rank
    correlation), and how many refined points have ‖∇L‖ above 1e-5 and 1e-4.

    Args:
        results: :func:`run`'s output.

    Returns:
        One row per activation.
    """
    from scipy.stats import spearmanr

    from hw1.report import table

    rows = []
    for act, r in results.items():
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        scale = np.abs(eig).max(1)
        lam_min = np.clip(-eig.min(1), 0, None) / scale
        grad = np.array([f["grad_norm"] for f in r["refined"]]) / scale
        rows.append({"activation": _name(act),
                     "|λ_min| / max|λ|: median": float(np.median(lam_min)),
                     "|λ_min| / max|λ|: largest": float(lam_min.max()),
                     "‖∇L‖ / max|λ|: median": float(np.median(grad)),
                     "Spearman: |λ_min| vs ‖∇L‖": float(spearmanr(lam_min, grad).statistic),
                     "runs with ‖∇L‖ > 1e-5": int((grad * scale > 1e-5).sum()),
                     "runs with ‖∇L‖ > 1e-4": int((grad * scale > 1e-4).sum())})
    return table(rows)


def _spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation of ``a[i]`` and ``b[i]`` for every row ``i`` (ties get
    average ranks, as in :func:`scipy.stats.spearmanr`); NaN where a row is constant.

    Args:
        a, b: ``(B, n)`` arrays, e.g. ``B`` bootstrap resamples of ``n`` runs.

    Returns:
        ``(B,)`` correlations.
    """
    from scipy.stats import rankdata

    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ra * rb).sum(1) / np.sqrt((ra * ra).sum(1) * (rb * rb).sum(1))


def _correlations(results: dict, cutoffs: tuple[float, ...], resamples: int = 2000,
                  seed: int = 0) -> list[dict]:
    """Spearman rank correlation of minimal ratio and loss per activation and cutoff, with a
    95% percentile-bootstrap interval over runs (the same resamples at every cutoff), and the
    number of distinct ratio values.

    Args:
        results: :func:`run`'s output.
        cutoffs: the relative cutoffs λ_cut.
        resamples, seed: the bootstrap's resamples of the runs and its random seed.

    Returns:
        One dict per activation and cutoff: ``activation``, ``cutoff``, ``spearman``,
        ``ci95_low``, ``ci95_high``, ``distinct_ratios``.
    """
    import warnings

    from scipy.stats import ConstantInputWarning, spearmanr

    rows = []
    rng = np.random.default_rng(seed)
    for act, r in results.items():
        loss = np.array([f["loss"] for f in r["refined"]])
        idx = rng.integers(0, len(loss), size=(resamples, len(loss)))
        ratios = ratio_vs_cutoff(r["refined_eigenvalues"], np.array(cutoffs))
        for j, cutoff in enumerate(cutoffs):
            ratio = ratios[:, j]
            with warnings.catch_warnings():  # a constant ratio has no rank correlation: NaN
                warnings.simplefilter("ignore", ConstantInputWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
                rho = float(spearmanr(ratio, loss).statistic)
                boot = _spearman_rows(ratio[idx], loss[idx])
                low, high = np.nanpercentile(boot, [2.5, 97.5])
            rows.append({"activation": act, "cutoff": cutoff, "spearman": rho,
                         "ci95_low": float(low), "ci95_high": float(high),
                         "distinct_ratios": int(len(np.unique(ratio)))})
    return rows


def correlation_table(results: dict, cutoffs: tuple[float, ...] = (1e-6, 1e-5, 1e-4, 1e-3,
                                                                   1e-2)):
    """Spearman rank correlation of minimal ratio and loss per cutoff (rows) and activation,
    with its 95% bootstrap interval over runs and the number of distinct ratio values.

    Args:
        results: :func:`run`'s output.
        cutoffs: the relative cutoffs λ_cut (rows).

    Returns:
        One row per cutoff.
    """
    from hw1.report import diff, table

    rows = {c: {"cutoff λ_cut": _cut(c)} for c in cutoffs}
    for x in _correlations(results, cutoffs):
        row = rows[x["cutoff"]]
        row[f"{_name(x['activation'])}: Spearman [95% CI]"] = diff(
            x["spearman"], x["ci95_low"], x["ci95_high"])
        row[f"{_name(x['activation'])}: distinct ratio values"] = x["distinct_ratios"]
    return table(list(rows.values()))


# --- figures ---

def _color(activation: str) -> str | None:
    """Line colour of an activation in every figure."""
    return {"relu": "tab:blue", "tanh": "tab:orange"}.get(activation)


def figure_ratio_vs_cutoff(results: dict) -> plt.Figure:
    """The cutoff sweep: median minimal ratio per cutoff at the float32 end points and at the
    refined points, with the lowest–highest band of the refined runs, the rounding level and
    the headline cutoff. Saved as ``minimal_ratio_vs_tolerance``.

    Args:
        results: :func:`run`'s output.

    Returns:
        The figure.
    """
    lc = r"$\lambda_\mathrm{cut}$"
    cut_h = headline_cutoff(results)
    P = next(iter(results.values()))["refined_eigenvalues"].shape[1]
    floor = P * np.finfo(np.float64).eps
    fig, ax = plt.subplots(figsize=(7.4, 4.4))
    positive = TAUS > 0
    cfg_first = next(iter(results))
    for act, r in results.items():
        for eig, style, what in ((r["eigenvalues"], "--", "float32 end points"),
                                 (r["refined_eigenvalues"], "-", "refined points")):
            ratios = ratio_vs_cutoff(eig)
            med = np.median(ratios, 0)
            ax.plot(TAUS[positive], med[positive], style, color=_color(act),
                    label=f"{_name(act)}, {what}: median")
            if style == "-":  # λ_cut = 0, refined: the two activations side by side
                x0 = 1e-17 * (0.5 if act == cfg_first else 2.0)
                ax.plot([x0], [med[0]], "o", color=_color(act),
                        label=f"{_name(act)}, refined, {lc} = 0: median {med[0]:.3f}")
            if style == "-":
                ax.fill_between(TAUS[positive], ratios.min(0)[positive],
                                ratios.max(0)[positive], color=_color(act), alpha=0.2,
                                linewidth=0)
    ax.axvspan(1e-17 * 0.25, floor, color="grey", alpha=0.12, lw=0,
               label=f"below the rounding level P·eps = {floor:.0e}")
    ax.axvline(cut_h, color="black", lw=0.8, label=f"headline cutoff {lc} = {cut_h:g}")
    ax.set(xscale="log", ylim=(0, 0.6),
           xlabel=f"relative cutoff {lc}: |λ| ≤ {lc}·max|λ| counts as zero\n"
                  f"(markers at the left: {lc} = 0)",
           ylabel=f"minimal ratio (fraction of λ > {lc}·max|λ|)",
           title="Minimal ratio vs cutoff (band: lowest to highest refined run)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2)
    save_figure(fig, "minimal_ratio_vs_tolerance")
    return fig


def figure_ratio_vs_loss(results: dict) -> plt.Figure:
    """Four panels: (a) minimal ratio vs loss at the headline cutoff; (b) their Spearman
    correlation vs cutoff with 95% bootstrap intervals; (c) negative curvature vs gradient
    norm; (d) index vs loss at two cutoffs. Saved as ``minimal_ratio_vs_loss``.

    Args:
        results: :func:`run`'s output.

    Returns:
        The figure.
    """
    lc = r"$\lambda_\mathrm{cut}$"
    cut_h = headline_cutoff(results)
    P = next(iter(results.values()))["refined_eigenvalues"].shape[1]
    grid = tuple(10.0 ** np.arange(-8, -1.99, 0.5))
    corr = _correlations(results, grid)
    fig, ((a, b), (c, d)) = plt.subplots(2, 2, figsize=(11.4, 9.0))
    rng = np.random.default_rng(0)
    for k, (act, r) in enumerate(results.items()):
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        loss = np.array([f["loss"] for f in r["refined"]])
        ratio = counts(eig, cut_h)["positive"] / P
        jitter = rng.uniform(-0.3, 0.3, len(ratio)) / P
        a.scatter(ratio + jitter, loss, s=12, alpha=0.7, color=_color(act),
                  label=f"{_name(act)} ({len(loss)} runs)")

        rows = [x for x in corr if x["activation"] == act]
        shift = 0.88 if k % 2 == 0 else 1.12  # the activations side by side at each cutoff
        x = np.array([x["cutoff"] for x in rows]) * shift
        rho = np.array([x["spearman"] for x in rows])
        low, high = (np.array([x[key] for x in rows]) for key in ("ci95_low", "ci95_high"))
        b.plot(x, rho, "o-", ms=4, color=_color(act), label=_name(act))
        b.vlines(x, low, high, color=_color(act))  # a percentile interval may miss the point

        scale = np.abs(eig).max(1)
        lam_min = np.clip(-eig.min(1), 1e-300, None) / scale
        grad = np.array([f["grad_norm"] for f in r["refined"]]) / scale
        c.scatter(grad, np.clip(lam_min, 1e-18, None), s=12, alpha=0.7, color=_color(act),
                  label=_name(act))

        index_low = counts(eig, 1e-12)["negative"] / P
        index_h = counts(eig, cut_h)["negative"] / P
        d.scatter(index_low, loss, s=12, facecolors="none", edgecolors=_color(act),
                  label=f"{_name(act)}, {lc} = 1e-12")
        d.scatter(index_h, loss, s=12, marker="x", color=_color(act),
                  label=f"{_name(act)}, {lc} = {cut_h:g}" + (" (all 0)" if not index_h.any()
                                                             else ""))
    a.set(xlabel=f"minimal ratio at {lc} = {cut_h:g} (values k/P, jittered by ±0.3/P)",
          ylabel="training loss (MSE)", yscale="log",
          title="(a) Minimal ratio vs loss, headline cutoff")
    a.legend()
    b.axhline(0, color="grey", lw=0.8)
    b.axvline(cut_h, color="black", lw=0.8, label="headline cutoff")
    b.set(xscale="log", ylim=(-1, 1), xlabel=f"relative cutoff {lc}",
          ylabel="Spearman correlation: minimal ratio vs loss",
          title="(b) Rank correlation vs cutoff\n(bars: 95% bootstrap interval over runs)")
    b.legend()
    lims = np.array([1e-8, 1e-3])
    c.plot(lims, lims, color="grey", lw=0.8, label="equal")
    c.axhline(cut_h, color="black", lw=0.8, label=f"headline cutoff {lc} = {cut_h:g}")
    c.set(xscale="log", yscale="log", xlabel="‖∇L‖ / max|λ| at the refined point",
          ylabel="|most negative λ| / max|λ|",
          title="(c) Negative curvature vs gradient norm\n"
                "(points below the black line have index 0)")
    c.legend()
    d.set(xlabel=f"index: fraction of λ < −{lc}·max|λ|", ylabel="training loss (MSE)",
          yscale="log", title=f"(d) Index vs loss at two cutoffs\n({lc} = 1e-12 is below the "
                              "sign resolution)")
    d.legend()
    fig.tight_layout()
    save_figure(fig, "minimal_ratio_vs_loss")
    return fig


def figure_spectrum_histogram(results: dict) -> plt.Figure:
    """Histograms of |λ| / max|λ| (log scale) after refinement, by sign, per activation:
    every run pooled (top row) and the lower- vs higher-loss half (bottom row). Saved as
    ``minimal_ratio_spectrum_histogram``.

    Args:
        results: :func:`run`'s output.

    Returns:
        The figure.
    """
    from matplotlib.lines import Line2D

    lc = r"$\lambda_\mathrm{cut}$"
    acts = list(results)
    cut_h = headline_cutoff(results)
    P = next(iter(results.values()))["refined_eigenvalues"].shape[1]
    floor = P * np.finfo(np.float64).eps
    fig, axes = plt.subplots(2, len(acts), figsize=(min(5.6 * len(acts), 11.2), 8.0),
                             squeeze=False, sharex=True)
    bins = np.arange(-20, 0.01, 0.5)
    for col, act in enumerate(acts):
        r = results[act]
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        rel = eig / np.abs(eig).max(1, keepdims=True)
        loss = np.array([f["loss"] for f in r["refined"]])
        low = loss <= np.median(loss)
        parts = ((axes[0, col], ((np.ones_like(low), "-"),),
                  f"{_name(act)}, all {len(loss)} runs ({int((rel == 0).sum())} λ exactly 0, "
                  "not shown)"),
                 (axes[1, col], ((low, "-"), (~low, ":")),
                  f"{_name(act)}, lower- vs higher-loss half"))
        for ax, selections, title in parts:
            for sel, style in selections:
                for sign, color in ((1, "tab:green"), (-1, "tab:red")):
                    part = rel[sel]
                    vals = np.log10(np.abs(part[np.sign(part) == sign]))
                    ax.hist(np.clip(vals, bins[0], bins[-1]), bins=bins, histtype="step",
                            color=color, ls=style, lw=1.0 if style == "-" else 1.8)
            ax.axvline(np.log10(cut_h), color="black", lw=0.8)
            ax.axvline(np.log10(floor), color="grey", lw=0.8, ls="--")
            ax.set(ylabel="number of eigenvalues (all runs)", title=title)
            ax.set_yscale("symlog", linthresh=1)
        axes[1, col].set_xlabel("log10(|λ| / max|λ|); values below −20 in the first bin")
    handles = [Line2D([], [], color="tab:green", label="λ > 0"),
               Line2D([], [], color="tab:red", label="λ < 0"),
               Line2D([], [], color="dimgrey", label="all runs (top), lower-loss half (bottom)"),
               Line2D([], [], color="dimgrey", ls=":", lw=1.8, label="higher-loss half (bottom)"),
               Line2D([], [], color="black", lw=0.8, label=f"headline cutoff {lc} = {cut_h:g}"),
               Line2D([], [], color="grey", lw=0.8, ls="--",
                      label=f"rounding level P·eps = {floor:.0e}")]
    fig.suptitle(f"Hessian spectra at the refined points of the 1-D fits ({P}-parameter MLPs), "
                 "|λ| relative to the largest")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=3)
    save_figure(fig, "minimal_ratio_spectrum_histogram")
    return fig


def make_figures(results: dict) -> list[plt.Figure]:
    """Every figure of the notebook (used by ``python -m hw1.figures``): the cutoff sweep;
    minimal ratio and index vs loss with negative curvature vs gradient norm; the spectra
    relative to max|λ|.

    Args:
        results: :func:`run`'s output.

    Returns:
        The three figures, in that order.
    """
    return [figure_ratio_vs_cutoff(results), figure_ratio_vs_loss(results),
            figure_spectrum_histogram(results)]
