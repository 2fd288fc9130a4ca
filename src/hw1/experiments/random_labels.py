"""HW1-3 (can a network fit random labels?) as a label-corruption sweep (Zhang et al. 2017,
Fig. 1): a fraction of the training labels is replaced by uniformly random classes, from none
(the true-label control) to all; each model trains until it fits its labels, and its error is
measured on the untouched test set. The seeds of one corruption level, each with its own
corrupted labels, train as one stacked ensemble."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np
import torch

from hw1.config import ExperimentConfig
from hw1.data import DATASETS, dataset_label, load_subset
from hw1.ensemble import evaluate_ensemble, train_ensemble
from hw1.intervals import t_interval, welch_difference
from hw1.models import count_params, image_mlp
from hw1.plotting import band, save_figure
from hw1.store import RunStore
from hw1.training import Criterion, loss_function


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the label-corruption sweep.

    Attributes:
        dataset, n_train: data (a seeded training subset; the whole test split is used).
        widths: hidden widths of the MLP that memorizes.
        corruption: fractions of the training labels replaced by random classes (0 is the
            true-label control, 1 is fully random labels); each in [0, 1].
        target_train_acc, max_steps: each model trains until its accuracy on its own
            (corrupted) training labels is at least ``target_train_acc``, checked after every
            epoch, or ``max_steps`` optimizer steps.
        batch_size, lr: Adam settings.
        seeds: initialization, batch order and the corrupted labels, per model.
    """

    name: ClassVar[str] = "random_labels"
    positive: ClassVar[tuple[str, ...]] = ("n_train", "widths", "target_train_acc",
                                           "max_steps", "batch_size", "lr")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"dataset": DATASETS}
    dataset: str = "mnist"
    n_train: int = 10_000
    widths: tuple[int, ...] = (512, 512)
    corruption: tuple[float, ...] = (0.0, 0.2, 0.5, 0.8, 1.0)
    target_train_acc: float = 0.99
    max_steps: int = 15_000
    batch_size: int = 100
    lr: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.corruption or any(not 0 <= c <= 1 for c in self.corruption):
            raise ValueError(f"corruption fractions must lie in [0, 1], got {self.corruption}")
        if len(self.seeds) < 2:
            raise ValueError(f"need at least 2 seeds for intervals, got {self.seeds}")
        self.criterion()  # an accuracy target above 1 (e.g. 99 for 99%) fails here

    def criterion(self) -> Criterion:
        """Every model's stopping rule."""
        return Criterion(train_acc_at_least=self.target_train_acc, max_steps=self.max_steps)


Config.register(full=Config(), smoke=Config(dataset="digits", n_train=300, widths=(64,),
                                            corruption=(0.0, 0.5, 1.0), target_train_acc=0.9,
                                            max_steps=150, seeds=(0, 1)))


def corrupt_labels(y: torch.Tensor, fraction: float, num_classes: int,
                   generator: torch.Generator) -> torch.Tensor:
    """A copy of ``y`` ``(N,)`` in which ``round(fraction · N)`` labels, at positions chosen by
    ``generator``, are replaced by classes drawn uniformly from all ``num_classes`` (so about
    1/K of them keep their true class by chance, as in Zhang et al. 2017)."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    out = y.clone()
    chosen = torch.randperm(len(y), generator=generator)[:round(fraction * len(y))]
    out[chosen] = torch.randint(0, num_classes, (len(chosen),), generator=generator)
    return out


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str]:
    data = load_subset(cfg.dataset, cfg.n_train, 10 ** 9)  # the whole test set
    fraction = spec["corruption"]
    labels = torch.stack([corrupt_labels(data.y_train, fraction, data.num_classes,
                                         torch.Generator().manual_seed(10_000 + s))
                          for s in seeds])  # (R, N): each model its own corrupted labels
    models = []
    for s in seeds:
        torch.manual_seed(s)
        models.append(image_mlp(data.input_shape, cfg.widths, data.num_classes))
    hists, ens = train_ensemble(models, data.x_train, labels, batch_size=cfg.batch_size,
                                lr=cfg.lr, seeds=seeds, until=cfg.criterion(),
                                desc=f"{fraction:.0%} of labels random")
    loss_fn = loss_function("cross_entropy")
    test_loss, test_acc = evaluate_ensemble(ens, loss_fn, data.x_test, data.y_test)
    true_loss, true_acc = evaluate_ensemble(ens, loss_fn, data.x_train, data.y_train)
    rows = []
    for r, (s, h) in enumerate(zip(seeds, hists, strict=True)):
        changed = labels[r] != data.y_train
        rows.append({"seed": s, "epochs": h.epoch[-1], "steps": h.steps, "reached": h.reached,
                     "train_acc": h.train_acc[-1], "train_loss": h.train_loss[-1],
                     "train_acc_true_labels": true_acc[r].item(),
                     "test_loss": test_loss[r].item(), "test_acc": test_acc[r].item(),
                     "labels_changed": changed.float().mean().item(),
                     "history": {k: getattr(h, k) for k in ("epoch", "train_loss",
                                                            "train_acc")}})
    return ({"rows": rows, "n_params": count_params(models[0]), "n_test": len(data.y_test)},
            data.source)


def run(cfg: Config, executor: Executor | None = None) -> dict:
    """Train (or load) every corruption level, all seeds at once.

    Args:
        cfg: the experiment's settings.
        executor: runs the missing levels; None: here, one after another.

    Returns:
        ``{"dataset", "source", "criterion", "n_params", "n_test", "levels": {fraction:
        [one dict per seed]}}``.
    """
    base = {k: v for k, v in cfg.to_dict().items() if k not in ("corruption", "seeds")}
    items = [({**base, "corruption": c}, list(cfg.seeds)) for c in cfg.corruption]
    runs = RunStore(cfg.name).sweep(items, partial(_unit, cfg), executor=executor)
    return {"dataset": cfg.dataset, "source": runs[0].data_source,
            "criterion": cfg.criterion().describe(), "n_params": runs[0].result["n_params"],
            "target_train_acc": cfg.target_train_acc,
            "n_test": runs[0].result["n_test"],
            "levels": {c: run.result["rows"] for c, run in zip(cfg.corruption, runs,
                                                               strict=True)}}


def _control(results: dict) -> list[dict]:
    """The true-label runs (corruption 0), which every comparison is made against."""
    if 0 not in results["levels"]:
        raise ValueError(f"no true-label control: corruption levels are "
                         f"{list(results['levels'])}; include 0.0 in Config.corruption")
    return results["levels"][0]


def _epochs_to(run: dict, threshold: float) -> float:
    """First recorded epoch at which the train accuracy (own labels) is ≥ ``threshold``
    (NaN if never)."""
    h = run["history"]
    return next((float(e) for e, a in zip(h["epoch"], h["train_acc"], strict=True)
                 if a >= threshold), float("nan"))


def _thresholds() -> tuple[float, ...]:
    """Train accuracies (own labels) whose first crossing is timed: 90%, 95% and 99%."""
    return (0.9, 0.95, 0.99)


def _welch(a, b) -> dict[str, str]:
    """``mean(a) − mean(b)`` as the cells of :func:`hw1.report.welch` (difference with its
    95% Welch interval, and whether it excludes 0), without scipy's warning about identical
    values (a level whose seeds all took the same number of epochs)."""
    import warnings

    from hw1.report import diff

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        w = welch_difference(a, b)
    return {"difference [95% CI]": diff(w["difference"], w["ci95_low"], w["ci95_high"]),
            "CI excludes 0": "yes" if w["excludes_0"] else "no"}


def _epochs_cell(values) -> str:
    """Epochs over seeds as a table cell: ``mean ± half-width`` (:func:`hw1.report.ci`), or
    ``"22 (all 3 seeds)"`` when every seed took the same whole number of epochs (a zero-width
    interval says nothing)."""
    from hw1.report import ci

    v = np.asarray(values, dtype=float)
    if len(v) > 1 and np.all(v == v[0]) and float(v[0]).is_integer():
        return f"{int(v[0])} (all {len(v)} seeds)"
    return ci(v)


def _paired(high: list[dict], low: list[dict], value) -> str:
    """``value(high run) − value(low run)`` per seed (the runs matched by their seed), as
    ``"+d [low, high]"``: the mean difference with its 95% paired t-interval."""
    from hw1.report import paired

    by_seed = {r["seed"]: value(r) for r in low}
    return paired([value(r) for r in high],
                  [by_seed[r["seed"]] for r in high])["difference [95% CI]"]


def summary(results: dict):
    """Per corruption level p: labels actually changed, runs that fit, epochs run (the epochs
    to fit when every run fit; a run that hit the cap counts its cap, a lower bound) and its
    mean as a multiple of the true-label control's, final train accuracy on the corrupted
    and on the true labels, test error and loss (mean ± 95% t half-width over seeds)."""
    from hw1.report import ci, table

    out = []
    control = np.mean([r["epochs"] for r in _control(results)])
    for level, rows in results["levels"].items():
        col = {k: [r[k] for r in rows] for k in rows[0] if k != "history"}
        out.append({"p": f"{level:g}", "labels changed": ci(col["labels_changed"]),
                    "runs that fit": f"{sum(bool(v) for v in col['reached'])}/{len(rows)}",
                    "epochs run": _epochs_cell(col["epochs"]),
                    "÷ control": float(np.mean(col["epochs"])) / control,
                    "train acc (own labels)": ci(col["train_acc"]),
                    "train acc (true labels)": ci(col["train_acc_true_labels"]),
                    "test error": ci(1 - np.asarray(col["test_acc"])),
                    "test loss": ci(col["test_loss"])})
    return table(out)


def epochs_to_reach(results: dict, thresholds: tuple[float, ...] = (0.9, 0.95, 0.99)):
    """Per corruption level: epochs until the train accuracy on the model's own labels first
    reaches each threshold (mean ± 95% t half-width over seeds, from the recorded history),
    and that mean as a multiple of the control's."""
    from hw1.report import table

    control = _control(results)
    out = []
    for level, rows in results["levels"].items():
        row = {"p": f"{level:g}"}
        for t in thresholds:
            epochs = [_epochs_to(r, t) for r in rows]
            base = np.mean([_epochs_to(r, t) for r in control])
            row[f"to {t:.0%}"] = _epochs_cell(epochs)
            row[f"÷ control ({t:.0%})"] = float(np.mean(epochs) / base)
        out.append(row)
    return table(out)


def level_differences(results: dict, thresholds: tuple[float, ...] = (0.9, 0.99)):
    """Epochs to reach each threshold: each corrupted level minus the next lower one, with
    the 95% Welch interval (it ignores that the levels share seeds, initializations and
    batch orders) and the 95% paired t-interval of the per-seed differences."""
    from hw1.report import table

    levels = sorted(results["levels"])
    out = []
    for t in thresholds:
        for low, high in zip(levels, levels[1:], strict=False):
            out.append({"threshold": f"{t:.0%}", "levels": f"{high:g} − {low:g}",
                        **_welch([_epochs_to(r, t) for r in results["levels"][high]],
                                 [_epochs_to(r, t) for r in results["levels"][low]]),
                        "paired by seed [95% CI]": _paired(
                            results["levels"][high], results["levels"][low],
                            partial(_epochs_to, threshold=t))})
    return table(out)


def differences_from_control(results: dict):
    """Each corruption level minus the true-label control, one row per level: epochs to fit
    (the 99% criterion) and test error, with 95% Welch t-intervals."""
    from hw1.report import table

    base = _control(results)
    rows = []
    for level, runs in results["levels"].items():
        if level == 0:
            continue
        row = {"p": f"{level:g}"}
        for key, f in (("epochs to fit", lambda r: r["epochs"]),
                       ("test error", lambda r: 1 - r["test_acc"])):
            cells = _welch([f(r) for r in runs], [f(r) for r in base])
            row[f"{key}: p − control [95% CI]"] = cells["difference [95% CI]"]
            row[f"{key}: CI excludes 0"] = cells["CI excludes 0"]
        rows.append(row)
    return table(rows)


def _title(results: dict, what: str) -> str:
    seeds = len(next(iter(results["levels"].values())))
    return (f"{dataset_label(results['source'], results['dataset'])}: {what}, {seeds} seeds "
            f"per level, each trained to {results['criterion']}")


def figure_training_curves(results: dict) -> plt.Figure:
    """Train loss and train error (1 − accuracy, on each model's own labels) per epoch for
    every corruption level, both on a log scale, with the accuracy thresholds of
    :func:`epochs_to_reach` as error lines: the mean of the seeds still training, and the 95%
    t band over seeds up to the first seed's stop (both averaged and banded as log10 values;
    an error of 0 is drawn at 10⁻⁴).

    Args:
        results: the output of :func:`run`.

    Returns:
        The figure, saved as ``random_labels_training_curves``.
    """
    from hw1.plotting import BAND_NOTE, MAX_WIDTH_IN

    floor = 1e-4  # an error of exactly 0 would leave the log axis
    levels = results["levels"]
    fig, axes = plt.subplots(1, 2, figsize=(MAX_WIDTH_IN - 0.6, 4.6))
    palette = ("black", "tab:blue", "tab:green", "tab:orange", "tab:red", "tab:purple",
               "tab:brown", "tab:pink")
    colors = [palette[i % len(palette)] for i in range(len(levels))]
    for (level, rows), color in zip(levels.items(), colors, strict=True):
        longest = max(len(r["history"]["epoch"]) for r in rows)
        epochs = np.arange(longest)
        for ax, key in ((axes[0], "train_loss"), (axes[1], "train_acc")):
            runs = np.full((len(rows), longest), np.nan)
            for i, r in enumerate(rows):
                runs[i, :len(r["history"][key])] = r["history"][key]
            if key == "train_acc":
                runs = np.maximum(1.0 - runs, floor)
            runs = np.log10(runs)  # averaged and banded as log10: a band stays > 0
            # while every seed trains: mean and 95% t band; after the first stop: each seed
            # still training as its own thin, light line (no mean of two or one seeds)
            k = min(len(r["history"][key]) for r in rows)
            band(ax, epochs[:k], runs[:, :k], color=color, label=f"p = {level:g}")
            for run_ in runs:
                if np.isfinite(run_[k:]).any():
                    ax.plot(epochs[k - 1:], run_[k - 1:], color=color, lw=0.6, alpha=0.35)
    axes[0].set(xlabel="epoch", ylabel="cross-entropy on own labels (log scale)",
                title="train loss (mean and band of log10 loss)")
    target = results["target_train_acc"]
    others = [t for t in _thresholds() if t != target]
    for t, ls in zip(others, (":", "-."), strict=False):
        axes[1].axhline(np.log10(1 - t), color="grey", lw=1.0, ls=ls,
                        label=f"{t:.0%} accuracy (error {1 - t:.2g})")
    axes[1].axhline(np.log10(1 - target), color="grey", lw=1.0, ls="--",
                    label=f"criterion: {target:.0%} accuracy (error {1 - target:.2g})")
    axes[1].set(xlabel="epoch", ylabel="error on own labels, 1 − accuracy (log scale)",
                title="train error (mean and band of log10 error)")
    for ax in axes:
        low, high = ax.get_ylim()
        ticks = np.arange(np.ceil(low), np.floor(high) + 1)
        ax.set_yticks(ticks, labels=[f"{10 ** t:g}" for t in ticks])
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=(len(handles) + 1) // 2,
               frameon=False, title="p: share of labels randomized")
    fig.suptitle(_title(results, "training curves") + f"\nthick line: mean and {BAND_NOTE}, "
                 "until the first seed fits; thin lines: single seeds after that")
    fig.tight_layout(rect=(0, 0.15, 1, 1))
    save_figure(fig, "random_labels_training_curves")
    return fig


def figure_corruption_sweep(results: dict) -> plt.Figure:
    """Against the corrupted fraction p: epochs until the train accuracy first reaches 90%,
    95% and 99% (mean ± 95% t interval over seeds, seeds as dots), and the test error.

    Args:
        results: the output of :func:`run`.

    Returns:
        The figure, saved as ``random_labels_corruption_sweep``.
    """
    from hw1.plotting import MAX_WIDTH_IN

    levels = results["levels"]
    x = np.array(list(levels))
    fig, axes = plt.subplots(1, 2, figsize=(MAX_WIDTH_IN - 0.6, 4.4))
    thresholds = _thresholds()
    offsets = np.linspace(-0.02, 0.02, len(thresholds))
    for t, dx, color in zip(thresholds, offsets, ("C0", "C1", "C3"), strict=True):
        vals = [[_epochs_to(r, t) for r in rows] for rows in levels.values()]
        mean, half = np.array([t_interval(v) for v in vals]).T
        axes[0].errorbar(x + dx, mean, yerr=half, fmt="o-", color=color, ms=4, capsize=3,
                         label=f"{t:.0%}")
        for xi, v in zip(x, vals, strict=True):
            axes[0].plot([xi + dx] * len(v), v, ".", color=color, ms=4, alpha=0.5)
    axes[0].set(xlabel="p (share of training labels randomized)", xlim=(-0.05, 1.05),
                ylabel="epochs until first reached",
                title="epochs to reach each train accuracy (own labels)")
    axes[0].legend(loc="lower right", title="train accuracy reached")
    errs = [[1 - r["test_acc"] for r in rows] for rows in levels.values()]
    mean, half = np.array([t_interval(v) for v in errs]).T
    axes[1].errorbar(x, mean, yerr=half, fmt="o-", color="k", ms=4, capsize=3)
    for xi, v in zip(x, errs, strict=True):
        axes[1].plot([xi] * len(v), v, ".", color="C1", ms=4, alpha=0.6)
    axes[1].axhline(0.9, color="grey", lw=0.8, ls=":")
    axes[1].text(0.0, 0.9, "chance (0.9)", color="grey", va="bottom")
    axes[1].set(xlabel="p (share of training labels randomized)",
                ylabel=f"test error (all {results['n_test']:,} test images, true labels)",
                title="test error at the fit")
    fig.suptitle(_title(results, "corruption sweep") +
                 "\n(mean ± 95% t interval over seeds; dots: seeds)")
    fig.tight_layout()
    save_figure(fig, "random_labels_corruption_sweep")
    return fig


def make_figures(results: dict) -> list[plt.Figure]:
    """Every figure of the notebook: :func:`figure_training_curves` and
    :func:`figure_corruption_sweep`."""
    return [figure_training_curves(results), figure_corruption_sweep(results)]
