"""HW1-3 flatness part 2 and bonus: models trained alike except for the batch size, in two
regimes, then measured: both sensitivity readings, ε-sharpness (Keskar et al. 2017, normalized
and raw, at two ε), the top Hessian eigenvalue and the Hessian trace, each set against the
generalization gap.

Regimes:
    ``equal_epochs``: the homework's sweep, every batch size for the same number of epochs
        (so a batch of 16 takes about 200 times as many steps as a batch of 4096);
    ``criterion``: every batch size until the same train-loss target, under a step cap (a run
        that hits the cap is kept and marked).
The learning rate is the same for every batch size in both regimes (Keskar et al.'s protocol:
only the batch size changes). The seeds of one (regime, batch size) train as one stacked
ensemble (``hw1.ensemble``).
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import NullFormatter
from scipy import stats
from torch import nn

from hw1.config import ExperimentConfig
from hw1.data import DATASETS, dataset_label, load_subset, subset
from hw1.ensemble import train_ensemble
from hw1.intervals import t_interval, welch_difference
from hw1.metrics import hessian_trace, sensitivities, sharpness_details, top_hessian_eigenvalue
from hw1.models import count_params, image_mlp
from hw1.plotting import save_figure
from hw1.store import RunStore
from hw1.training import Criterion

REGIMES = ("equal_epochs", "criterion")
REGIME_LABELS = {"equal_epochs": "equal epochs", "criterion": "same train-loss criterion"}
MEASURES = {  # key: label (the flatness and sensitivity measures ranked against the gap)
    "sensitivity_jacobian": "sensitivity: softmax Jacobian (Novak)",
    "sensitivity_loss_gradient": "sensitivity: per-sample loss gradient",
    "sharpness": "ε-sharpness, Keskar (%), ε = 1e-3",
    "sharpness_raw": "ε-sharpness, raw loss increase, ε = 1e-3",
    "top_eigenvalue": "top Hessian eigenvalue (Lanczos)",
    "hessian_trace": "Hessian trace (Hutchinson)",
}
GAPS = {"gap_loss": "test − train loss", "gap_acc": "train − test accuracy"}


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the batch-size sweep.

    Attributes:
        dataset, n_train, n_test: data (seeded subset).
        widths: hidden widths of the MLP.
        batch_sizes: the sweep (log scale).
        lr: Adam learning rate, the same for every batch size and regime.
        epochs: length of the equal-epoch regime.
        target_train_loss, max_steps: the criterion regime trains until the full-training-set
            loss is at most ``target_train_loss`` (checked after every epoch), or
            ``max_steps`` optimizer steps.
        seeds: runs per batch size and regime (initialization and batch order).
        n_metric: test images for the sensitivities and training images for sharpness, the
            top eigenvalue and the trace.
        epsilons: the two ε of the sharpness box, larger first (their ratio tests ε² scaling).
        sharpness_restarts: L-BFGS-B searches per sharpness value.
        trace_samples: Rademacher probes of the Hutchinson trace.
    """

    name: ClassVar[str] = "sensitivity_sharpness"
    positive: ClassVar[tuple[str, ...]] = ("n_train", "n_test", "widths", "batch_sizes",
                                           "epochs", "lr", "target_train_loss", "max_steps",
                                           "n_metric", "epsilons", "sharpness_restarts",
                                           "trace_samples")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"dataset": DATASETS}
    dataset: str = "mnist"
    n_train: int = 10_000
    n_test: int = 2_000
    widths: tuple[int, ...] = (64, 64)
    batch_sizes: tuple[int, ...] = (16, 64, 256, 1024, 4096)
    lr: float = 1e-3
    epochs: int = 10
    target_train_loss: float = 0.01
    max_steps: int = 20_000
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    n_metric: int = 1_000
    epsilons: tuple[float, ...] = (1e-3, 5e-4)
    sharpness_restarts: int = 3
    trace_samples: int = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        self.criterion()  # an unreachable or malformed criterion fails here, before training
        if len(self.epsilons) != 2 or self.epsilons[0] <= self.epsilons[1]:
            raise ValueError(f"epsilons must be two values, larger first, got {self.epsilons}")
        if len(self.seeds) < 2:
            raise ValueError(f"need at least 2 seeds for intervals, got {self.seeds}")

    def criterion(self) -> Criterion:
        """The criterion regime's stopping rule."""
        return Criterion(train_loss_at_most=self.target_train_loss, max_steps=self.max_steps)


Config.register(full=Config(), smoke=Config(dataset="digits", n_train=500, n_test=200,
                                            widths=(16,), batch_sizes=(16, 128, 512), epochs=2,
                                            target_train_loss=0.3, max_steps=300, seeds=(0, 1),
                                            n_metric=100, sharpness_restarts=1,
                                            trace_samples=10))


def _measure(cfg: Config, model: nn.Module, data) -> dict:
    gen = torch.Generator().manual_seed(1234)
    x_te, y_te = subset(data.x_test, data.y_test, cfg.n_metric, gen)
    x_tr, y_tr = subset(data.x_train, data.y_train, cfg.n_metric, gen)
    ce = nn.functional.cross_entropy
    sens = sensitivities(model, x_te, y_te)
    out = {"sensitivity_jacobian": sens["jacobian"],
           "sensitivity_loss_gradient": sens["loss_gradient"]}
    for i, eps in enumerate(cfg.epsilons):
        s = sharpness_details(model, ce, x_tr, y_tr, epsilon=eps,
                              restarts=cfg.sharpness_restarts)
        suffix = "" if i == 0 else "_small_eps"
        out[f"sharpness{suffix}"], out[f"sharpness_raw{suffix}"] = s["normalized"], s["raw"]
    out["top_eigenvalue"] = top_hessian_eigenvalue(model, ce, x_tr, y_tr)
    out["hessian_trace"] = hessian_trace(model, ce, x_tr, y_tr, samples=cfg.trace_samples,
                                         generator=torch.Generator().manual_seed(0))
    return out


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str]:
    data = load_subset(cfg.dataset, cfg.n_train, cfg.n_test)
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(image_mlp(data.input_shape, cfg.widths, data.num_classes))
    regime, bs = spec["regime"], spec["batch_size"]
    kw = ({"epochs": cfg.epochs} if regime == "equal_epochs" else {"until": cfg.criterion()})
    hists, ens = train_ensemble(models, data.x_train, data.y_train, data.x_test, data.y_test,
                                batch_size=bs, lr=cfg.lr, seeds=seeds,
                                desc=f"{REGIME_LABELS[regime]}, batch {bs}", **kw)
    rows = []
    for seed, hist, model in zip(seeds, hists, ens.models(), strict=True):
        rows.append({"seed": seed, "steps": hist.steps, "epochs": hist.epoch[-1],
                     "reached": hist.reached, "train_loss": hist.train_loss[-1],
                     "test_loss": hist.test_loss[-1], "train_acc": hist.train_acc[-1],
                     "test_acc": hist.test_acc[-1], **_measure(cfg, model, data)})
    return {"rows": rows, "n_params": count_params(models[0])}, data.source


def run(cfg: Config, executor: Executor | None = None) -> dict:
    """Train and measure (or load) every regime x batch size (all seeds at once).

    Args:
        cfg: the experiment's settings.
        executor: runs the missing (regime, batch size) ensembles; None: here, one after
            another.

    Returns:
        ``{"batch_sizes", "dataset", "source", "criterion", "rows": [one dict per model with
        "regime", "batch", "seed", final metrics, gaps and measures]}``.
    """
    base = {k: v for k, v in cfg.to_dict().items()
            if k not in ("batch_sizes", "seeds", "epochs", "target_train_loss", "max_steps")}
    specs = []
    for regime in REGIMES:
        stop = ({"epochs": cfg.epochs} if regime == "equal_epochs" else
                {"target_train_loss": cfg.target_train_loss, "max_steps": cfg.max_steps})
        specs += [{**base, **stop, "regime": regime, "batch_size": bs}
                  for bs in cfg.batch_sizes]
    runs = RunStore(cfg.name).sweep([(s, list(cfg.seeds)) for s in specs], partial(_unit, cfg),
                                    executor=executor)
    rows = []
    for spec, stored in zip(specs, runs, strict=True):
        for r in stored.result["rows"]:
            rows.append({"regime": spec["regime"], "batch": spec["batch_size"], **r,
                         "gap_loss": r["test_loss"] - r["train_loss"],
                         "gap_acc": r["train_acc"] - r["test_acc"]})
    return {"batch_sizes": list(cfg.batch_sizes), "dataset": cfg.dataset,
            "source": runs[-1].data_source, "criterion": cfg.criterion().describe(),
            "n_params": runs[-1].result["n_params"], "epsilons": list(cfg.epsilons),
            "max_steps": cfg.max_steps,
            "rows": rows}


def _regime_name(regime: str) -> str:
    """Short regime name for tables and figures (the notebook defines both regimes)."""
    return {"equal_epochs": "equal epochs", "criterion": "criterion"}[regime]


def _name(key: str) -> str:
    """Short name of a measure, gap or quantity for a table column or a figure label (the
    notebook's markdown explains each)."""
    return {"sensitivity_jacobian": "Jacobian sensitivity",
            "sensitivity_loss_gradient": "loss-gradient sensitivity",
            "sharpness": "ε-sharpness (%)", "sharpness_raw": "raw ε-sharpness",
            "top_eigenvalue": "top eigenvalue", "hessian_trace": "Hessian trace",
            "gap_acc": "accuracy gap", "gap_loss": "loss gap", "test_acc": "test accuracy",
            "test_loss": "test loss"}[key]


def _style() -> tuple[dict[str, str], dict[str, float]]:
    """Colour per regime, and a multiplicative x offset that puts the regimes side by side
    on the log batch axis."""
    return {"equal_epochs": "C0", "criterion": "C1"}, {"equal_epochs": 0.93, "criterion": 1.07}


def _values(results: dict, regime: str, batch: int, key: str) -> np.ndarray:
    return np.array([r[key] for r in results["rows"]
                     if r["regime"] == regime and r["batch"] == batch], dtype=float)


def _capped(results: dict) -> bool:
    """Whether any criterion-regime run stopped at the step cap before the criterion."""
    return any(r["reached"] is False for r in results["rows"] if r["regime"] == "criterion")


def _steps(values: np.ndarray) -> str:
    """The range of step counts over seeds (one number when they all agree)."""
    from hw1.report import num

    low, high = int(values.min()), int(values.max())
    return num(low) if low == high else f"{num(low)}–{num(high)}"


def training_table(results: dict):
    """Per regime and batch size: optimizer steps (range over seeds), runs that met the
    criterion, train/test loss and accuracy and both gaps (loss gap: test − train loss;
    accuracy gap: train − test accuracy), as mean ± 95% t half-width over seeds."""
    from hw1.report import ci, table

    rows = []
    for regime in REGIMES:
        for bs in results["batch_sizes"]:
            v = partial(_values, results, regime, bs)
            met = v("reached")
            rows.append({"regime": _regime_name(regime), "batch": bs,
                         "steps": _steps(v("steps")),
                         "met criterion": "—" if regime == "equal_epochs" else
                         f"{int(np.nansum(met))}/{len(met)}",
                         "train loss": ci(v("train_loss")), "test loss": ci(v("test_loss")),
                         "loss gap": ci(v("gap_loss")), "train accuracy": ci(v("train_acc")),
                         "test accuracy": ci(v("test_acc")),
                         "accuracy gap": ci(v("gap_acc"))})
    return table(rows)


def _welch(w: dict) -> dict[str, str]:
    """A :func:`hw1.intervals.welch_difference` result as the cells of
    :func:`hw1.report.welch`: the difference with its 95% interval, and whether the interval
    excludes 0."""
    from hw1.report import diff

    return {"difference [95% CI]": diff(w["difference"], w["ci95_low"], w["ci95_high"]),
            "CI excludes 0": "yes" if w["excludes_0"] else "no"}


def batch_differences(results: dict, keys: tuple[str, ...] = ("test_acc", "gap_acc",
                                                               "test_loss", "gap_loss"),
                      ):
    """Smallest minus largest batch size (``quantity`` at the smallest minus at the largest),
    per regime and quantity: the difference of seed
    means with its 95% Welch t-interval, and whether that interval excludes 0."""
    from hw1.report import table

    small, large = min(results["batch_sizes"]), max(results["batch_sizes"])
    return table([{"regime": _regime_name(regime),
                   "quantity": _name(key),
                   **_welch(welch_difference(_values(results, regime, small, key),
                                             _values(results, regime, large, key)))}
                  for regime in REGIMES for key in keys])


def measure_table(results: dict):
    """Per regime and batch size: every measure as mean ± 95% t half-width over seeds."""
    from hw1.report import ci, table

    return table([{"regime": _regime_name(regime), "batch": bs,
                   **{_name(k): ci(_values(results, regime, bs, k)) for k in MEASURES}}
                  for regime in REGIMES for bs in results["batch_sizes"]])


def _epsilon_ratio(results: dict, regime: str, batch: int) -> np.ndarray:
    """Per seed: raw sharpness increase at the larger ε over that at the smaller ε."""
    return (_values(results, regime, batch, "sharpness_raw")
            / _values(results, regime, batch, "sharpness_raw_small_eps"))


def epsilon_scaling(results: dict):
    """Per regime and batch size: raw sharpness increase at the larger ε over that at the
    smaller ε (4 for a pure quadratic at a minimum when ε halves, 2 for a pure gradient
    term), mean ± 95% t half-width over seeds, and the train loss it was measured at."""
    from hw1.report import ci, table

    big, small = results["epsilons"]
    head = f"raw-increase ratio, ε = {big:g} / ε = {small:g}"
    return table([{"regime": _regime_name(regime), "batch": bs,
                   head: ci(_epsilon_ratio(results, regime, bs)),
                   "train loss": ci(_values(results, regime, bs, "train_loss"))}
                  for regime in REGIMES for bs in results["batch_sizes"]])


def kendall_with_interval(x: np.ndarray, y: np.ndarray, resamples: int = 2000,
                          seed: int = 0) -> tuple[float, float, float]:
    """Kendall's τ-b of ``x`` and ``y`` ``(n,)`` (``scipy.stats.kendalltau``) with a 95%
    percentile bootstrap interval over resampled pairs (``scipy.stats.bootstrap``)."""
    tau = stats.kendalltau(x, y).statistic
    boot = stats.bootstrap((x, y), lambda a, b: stats.kendalltau(a, b).statistic, paired=True,
                           vectorized=False, n_resamples=resamples, method="percentile",
                           rng=np.random.default_rng(seed))
    return float(tau), float(boot.confidence_interval.low), float(boot.confidence_interval.high)


def rank_correlations(results: dict, resamples: int = 2000) -> list[dict]:
    """Kendall τ between each measure and each generalization gap, over all trained models
    (both regimes together, as Jiang et al. 2020) and within each regime, with bootstrap
    95% intervals; ``excludes_0`` says whether the interval leaves out zero."""
    groups = {"both regimes": results["rows"],
              **{REGIME_LABELS[g]: [r for r in results["rows"] if r["regime"] == g]
                 for g in REGIMES}}
    out = []
    for measure in MEASURES:
        for gap in GAPS:
            for name, rows in groups.items():
                x = np.array([r[measure] for r in rows], dtype=float)
                y = np.array([r[gap] for r in rows], dtype=float)
                tau, low, high = kendall_with_interval(x, y, resamples)
                out.append({"measure": measure, "gap": gap, "models": name, "n": len(rows),
                            "tau": tau, "ci95_low": low, "ci95_high": high,
                            "excludes_0": bool(low > 0 or high < 0)})
    return out


def _tau_cell(t: dict) -> str:
    """A Kendall τ row as ``"+0.738 [0.593, 0.864]"`` (τ with its 95% interval)."""
    from hw1.report import diff

    return diff(t["tau"], t["ci95_low"], t["ci95_high"])


def _group_name(t: dict) -> str:
    """Column name of a :func:`rank_correlations` grouping, with its number of models:
    ``"τ [95% CI], all 50 models"``, ``"τ [95% CI], criterion (25)"``."""
    if t["models"] == "both regimes":
        return f"τ [95% CI], all {t['n']} models"
    regime = next(g for g in REGIMES if REGIME_LABELS[g] == t["models"])
    return f"τ [95% CI], {_regime_name(regime)} ({t['n']})"


def rank_table(taus: list[dict]):
    """The :func:`rank_correlations` rows as one row per gap and measure, one column per
    grouping of models: Kendall τ with its 95% bootstrap interval (accuracy gap first)."""
    from hw1.report import table

    rows = {}
    for t in taus:
        row = rows.setdefault((t["gap"], t["measure"]), {"gap": _name(t["gap"]),
                                                        "measure": _name(t["measure"])})
        row[_group_name(t)] = _tau_cell(t)
    return table([rows[(gap, m)] for gap in ("gap_acc", "gap_loss") for m in MEASURES
                  if (gap, m) in rows])


def confounds(results: dict, resamples: int = 1000) -> list[dict]:
    """Within each regime: Kendall τ (with a 95% bootstrap interval) of every measure, and of
    both gaps, with the batch size and with the final train loss. A measure that ranks the
    gap no better than the batch size does adds nothing beyond the batch size; one that
    tracks the train loss is confounded by how far each model was trained."""
    out = []
    for regime in REGIMES:
        rows = [r for r in results["rows"] if r["regime"] == regime]
        for key in (*MEASURES, *GAPS):
            x = np.array([r[key] for r in rows], dtype=float)
            for other in ("batch", "train_loss"):
                y = np.array([r[other] for r in rows], dtype=float)
                tau, low, high = kendall_with_interval(x, y, resamples)
                out.append({"regime": regime, "quantity": key, "against": other, "tau": tau,
                            "ci95_low": low, "ci95_high": high,
                            "excludes_0": bool(low > 0 or high < 0)})
    return out


def confound_table(rows: list[dict]):
    """The :func:`confounds` rows as one row per quantity (measures, then both gaps), one
    column per regime and control: Kendall τ with its 95% bootstrap interval."""
    from hw1.report import table

    against = {"batch": "batch size", "train_loss": "train loss"}
    out = {}
    for t in rows:
        row = out.setdefault(t["quantity"], {"quantity": _name(t["quantity"])})
        row[f"{_regime_name(t['regime'])}: τ with {against[t['against']]}"] = _tau_cell(t)
    return table(list(out.values()))


def within_batch_tau(results: dict) -> list[dict]:
    """Kendall τ between each measure and each gap among the seeds of one batch size (so the
    batch size cannot drive it), averaged over batch sizes, with the smallest and largest of
    those per-batch values; per regime."""
    out = []
    for regime in REGIMES:
        for measure in MEASURES:
            for gap in GAPS:
                taus = [stats.kendalltau(_values(results, regime, bs, measure),
                                         _values(results, regime, bs, gap)).statistic
                        for bs in results["batch_sizes"]]
                out.append({"regime": regime, "measure": measure, "gap": gap,
                            "mean tau over batch sizes": float(np.nanmean(taus)),
                            "min": float(np.nanmin(taus)), "max": float(np.nanmax(taus))})
    return out


def within_batch_table(rows: list[dict]):
    """The :func:`within_batch_tau` rows as one row per gap and measure, one column per
    regime: mean τ over batch sizes (range: smallest to largest per-batch τ)."""
    from hw1.report import num, table

    out = {}
    for t in rows:
        row = out.setdefault((t["gap"], t["measure"]), {"gap": _name(t["gap"]),
                                                       "measure": _name(t["measure"])})
        mean = t["mean tau over batch sizes"]
        row[f"{_regime_name(t['regime'])}: mean τ (range)"] = (
            f"{'+' if mean > 0 else ''}{num(mean)} ({num(t['min'])} to {num(t['max'])})")
    return table([out[(gap, m)] for gap in ("gap_acc", "gap_loss") for m in MEASURES
                  if (gap, m) in out])


def summary(results: dict):
    """The training table (the notebook also shows the measure, ε-scaling and rank
    tables)."""
    return training_table(results)


def _plain_log_ticks(ax: plt.Axes, axis: str = "x") -> None:
    """Label a log axis at 1-2-5 steps (finer when the data span less than a decade) in plain
    3-significant-digit numbers, with no minor labels, so tick labels never overlap."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    from hw1.report import num

    get_lim = ax.get_xlim if axis == "x" else ax.get_ylim
    low, high = get_lim()
    decades = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
    for mantissas in ((1, 2, 5), (1, 1.5, 2, 3, 4, 5, 6, 8)):
        ticks = [t for k in decades for m in mantissas if low <= (t := m * 10.0 ** k) <= high]
        if len(ticks) >= 3:
            break
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(ticks[:: max(1, len(ticks) // 6)]))
    target.set_major_formatter(FuncFormatter(lambda v, _: num(v)))
    target.set_minor_formatter(NullFormatter())
    (ax.set_xlim if axis == "x" else ax.set_ylim)(low, high)


def _sparse_log_ticks(ax: plt.Axes, most: int = 4) -> None:
    """Label a log x axis with at most ``most`` ticks in ``%g`` form: the powers of ten in
    view when there are at least two, else 1-2-5 steps, else finer steps (when the data span
    less than a decade), thinned to ``most``.

    Args:
        ax: axes with a log x axis whose limits are set.
        most: the largest number of labelled ticks.
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter

    low, high = ax.get_xlim()
    decades = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
    for mantissas in ((1,), (1, 2, 5), (1, 1.5, 2, 3, 4, 5, 6, 8)):
        ticks = [t for k in decades for m in mantissas if low <= (t := m * 10.0 ** k) <= high]
        if len(ticks) >= 2 + (len(mantissas) > 1):
            break
    step = -(-len(ticks) // most)  # ceiling division
    ax.xaxis.set_major_locator(FixedLocator(ticks[::step]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(low, high)


def _log_batch_axis(ax: plt.Axes, x: np.ndarray) -> None:
    ax.set_xscale("log")
    ax.set_xticks(x, [str(v) for v in x])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("batch size (log)")


def _series(ax: plt.Axes, results: dict, key: str, regime: str, color: str, ls: str = "-",
            label: str | None = None, offset: float = 1.0) -> None:
    """Mean ± 95% t interval over seeds per batch size, seeds as dots, capped runs as x."""
    x = np.asarray(results["batch_sizes"])
    stats_ = [t_interval(_values(results, regime, bs, key)) for bs in x]
    mean, half = np.array(stats_).T
    ax.errorbar(x * offset, mean, yerr=half, fmt=f"o{ls}", color=color, ms=3, capsize=2,
                label=label)
    for bs in x:
        vals = _values(results, regime, bs, key)
        capped = _values(results, regime, bs, "reached") == 0
        ax.plot(np.full(len(vals), bs * offset), vals, "o", color=color, ms=3.5, alpha=0.35,
                mec="none")
        if regime == "criterion" and capped.any():
            ax.plot(np.full(capped.sum(), bs * offset), vals[capped], "kx", ms=5)


def figure_vs_batch_size(results: dict) -> plt.Figure:
    """Losses, both gaps, steps and every measure (but the raw ε-sharpness) against the batch
    size, both regimes side by side: ``sensitivity_sharpness_vs_batch_size``."""
    from hw1.plotting import MAX_WIDTH_IN
    from hw1.report import num

    colors, offsets = _style()
    x = np.asarray(results["batch_sizes"])
    label = dataset_label(results["source"], results["dataset"])
    seeds = len(_values(results, "criterion", x[0], "seed"))
    fig, axes = plt.subplots(3, 3, figsize=(MAX_WIDTH_IN, 10.2))
    panels = [("loss", "cross-entropy: train (solid), test (dashed)"),
              ("gap_loss", "loss gap: test − train loss"),
              ("gap_acc", "accuracy gap: train − test accuracy"),
              ("steps", "optimizer steps (log)"),
              *[(k, MEASURES[k]) for k in MEASURES if k != "sharpness_raw"]]
    for ax, (key, title) in zip(axes.flat, panels, strict=True):
        for regime in REGIMES:
            kw = {"color": colors[regime], "offset": offsets[regime]}
            if key == "loss":
                _series(ax, results, "train_loss", regime, **kw)
                _series(ax, results, "test_loss", regime, ls="--", **kw)
            else:
                _series(ax, results, key, regime, **kw)
        if key == "steps":
            ax.axhline(results["max_steps"], color="grey", lw=0.8)
        if key in ("loss", "steps", "top_eigenvalue", "hessian_trace", "sharpness"):
            ax.set_yscale("log")
            _plain_log_ticks(ax, "y")
        _log_batch_axis(ax, x)
        ax.set_title(title, fontsize=9)
    handles = [plt.Line2D([], [], color=colors[g], marker="o", label=f"{_regime_name(g)} regime")
               for g in REGIMES]
    handles.append(plt.Line2D([], [], color="grey", marker="o", ms=3.5, alpha=0.35, mec="none",
                              ls="", label="one seed"))
    handles.append(plt.Line2D([], [], color="grey", lw=0.8,
                              label=f"step cap ({num(results['max_steps'])})"))
    if _capped(results):
        handles.append(plt.Line2D([], [], color="k", marker="x", ls="",
                                  label="run that hit the step cap"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    equal = sorted({r["epochs"] for r in results["rows"] if r["regime"] == "equal_epochs"})
    fig.suptitle(f"{label}: batch-size sweep, {seeds} seeds per point (mean ± 95% t interval "
                 f"over seeds; dots: seeds)\nequal-epoch regime: "
                 f"{', '.join(map(str, equal))} epochs each; criterion regime: "
                 f"{results['criterion']}", fontsize=10)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    save_figure(fig, "sensitivity_sharpness_vs_batch_size")
    return fig


def figure_epsilon_scaling(results: dict) -> plt.Figure:
    """Raw ε-sharpness at the larger ε over that at the smaller ε against the batch size,
    with the quadratic and linear predictions: ``sharpness_epsilon_scaling``."""
    colors, offsets = _style()
    x = np.asarray(results["batch_sizes"])
    label = dataset_label(results["source"], results["dataset"])
    big, small = results["epsilons"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    tops = []
    for regime in REGIMES:
        mean, half = np.array([t_interval(_epsilon_ratio(results, regime, bs))
                               for bs in x]).T
        tops.append(np.nanmax(mean + np.nan_to_num(half)))
        ax.errorbar(x * offsets[regime], mean, yerr=half, fmt="o-", color=colors[regime],
                    ms=3, capsize=2, label=f"{_regime_name(regime)} regime")
    ax.axhline((big / small) ** 2, color="grey", ls="--",
               label=f"{(big / small) ** 2:g}: quadratic (curvature)")
    ax.axhline(big / small, color="grey", ls=":", label=f"{big / small:g}: linear (gradient)")
    _log_batch_axis(ax, x)
    ax.set(ylabel=f"raw increase at ε = {big:g} / at ε = {small:g}",
           ylim=(0, 1.05 * max(*tops, (big / small) ** 2)))
    ax.legend(loc="lower right")
    ax.set_title(f"{label}: does ε-sharpness scale like ε²?\n"
                 "mean ± 95% t interval over seeds", fontsize=10)
    save_figure(fig, "sharpness_epsilon_scaling")
    return fig


def figure_flatness_vs_gap(results: dict, taus: list[dict] | None = None) -> plt.Figure:
    """Each measure against the accuracy gap, every model, titled with its Kendall τ (95%
    bootstrap interval) in each grouping of models: ``flatness_vs_generalization_gap``.

    Args:
        results: :func:`run` output.
        taus: the :func:`rank_correlations` rows if already computed, else computed here.
    """
    from hw1.plotting import MAX_WIDTH_IN

    colors, _ = _style()
    x = np.asarray(results["batch_sizes"])
    label = dataset_label(results["source"], results["dataset"])
    taus = {(t["measure"], t["gap"], t["models"]): t
            for t in (taus if taus is not None else rank_correlations(results))}
    groups = [(REGIME_LABELS["criterion"], "criterion"),
              (REGIME_LABELS["equal_epochs"], "equal epochs"), ("both regimes", "all models")]
    fig, axes = plt.subplots(2, 3, figsize=(MAX_WIDTH_IN, 8.6))
    markers = dict(zip(x, "os^Dv<>p", strict=False))
    for ax, key in zip(axes.flat, MEASURES, strict=True):
        for r in results["rows"]:
            ax.plot(r[key], r["gap_acc"], markers[r["batch"]], color=colors[r["regime"]],
                    ms=6, alpha=0.7, mfc="none" if r["reached"] is False else None)
        ax.set(xscale="log", ylabel="accuracy gap (train − test)", xlabel=MEASURES[key])
        _sparse_log_ticks(ax)
        ax.set_title("\n".join(f"τ, {name}: {_tau_cell(taus[(key, 'gap_acc', group)])}"
                               for group, name in groups), fontsize=9, loc="left")
    handles = [plt.Line2D([], [], color=colors[g], marker="o", ls="", ms=6,
                          label=f"{_regime_name(g)} regime") for g in REGIMES]
    handles += [plt.Line2D([], [], color="grey", marker=markers[bs], ls="", ms=6,
                           label=f"batch {bs}") for bs in x]
    if _capped(results):
        handles.append(plt.Line2D([], [], color="grey", marker="o", mfc="none", ls="", ms=6,
                                  label="hollow: hit the step cap"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.suptitle(f"{label}: each measure against the accuracy gap, all {len(results['rows'])} "
                 "models (Kendall τ with 95% bootstrap interval over models)", fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    save_figure(fig, "flatness_vs_generalization_gap")
    return fig


def make_figures(results: dict, taus: list[dict] | None = None) -> list[plt.Figure]:
    """All three figures: :func:`figure_vs_batch_size`, :func:`figure_epsilon_scaling` and
    :func:`figure_flatness_vs_gap` (``taus``: the :func:`rank_correlations` rows if already
    computed)."""
    return [figure_vs_batch_size(results), figure_epsilon_scaling(results),
            figure_flatness_vs_gap(results, taus)]
