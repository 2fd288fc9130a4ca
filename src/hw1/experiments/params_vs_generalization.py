"""HW1-3 (number of parameters vs generalization): one MLP structure at widths spanning more
than two orders of magnitude of parameters, on MNIST and CIFAR-10, several seeds each (the
seeds of one width trained at once as a stacked ensemble), every width trained for the same
budget: one cosine schedule run to its end. How far each width's train loss still moved over
the last epochs is reported, not assumed."""

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
from hw1.ensemble import train_ensemble
from hw1.intervals import t_interval, welch_difference
from hw1.models import count_params, image_mlp
from hw1.plotting import save_figure
from hw1.store import RunStore

METRICS = ("train_loss", "train_acc", "test_loss", "test_acc")


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the parameter-count sweep.

    Attributes:
        datasets: dataset names; n_train, n_test: seeded subset sizes.
        widths: width ``w`` of the two hidden layers (structure ``in-w-w-classes``).
        epochs, batch_size, lr: Adam with a cosine schedule from ``lr`` to 0 over ``epochs``,
            the same for every width.
        flat_epochs: the flattening check compares the train loss at the end with the one
            this many epochs earlier.
        fit_acc: train accuracy from which a width counts as fitting its training set (the
            over-parameterized regime in the tables).
        check_epochs, check_from_width: the budget check trains every width from
            ``check_from_width`` on again with a ``check_epochs``-epoch cosine schedule, to
            measure how much the results move when the budget grows.
        seeds: one run per seed and width.
    """

    name: ClassVar[str] = "params_vs_generalization"
    positive: ClassVar[tuple[str, ...]] = ("n_train", "n_test", "widths", "epochs",
                                           "batch_size", "lr", "flat_epochs", "fit_acc",
                                           "check_epochs", "check_from_width")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"datasets": DATASETS}
    datasets: tuple[str, ...] = ("mnist", "cifar10")
    n_train: int = 10_000
    n_test: int = 2_000
    widths: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128, 256, 512)
    epochs: int = 20
    batch_size: int = 100
    lr: float = 1e-3
    flat_epochs: int = 4
    fit_acc: float = 0.99
    check_epochs: int = 40
    check_from_width: int = 64
    seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.flat_epochs >= self.epochs:
            raise ValueError(f"flat_epochs ({self.flat_epochs}) must be below epochs "
                             f"({self.epochs})")
        if self.fit_acc > 1:
            raise ValueError(f"fit_acc is a fraction in (0, 1], got {self.fit_acc}")
        if len(self.seeds) < 2:
            raise ValueError(f"need at least 2 seeds for intervals, got {self.seeds}")
        if self.check_epochs <= self.epochs:
            raise ValueError(f"check_epochs ({self.check_epochs}) must exceed epochs "
                             f"({self.epochs}): the check measures a longer budget")


Config.register(full=Config(), smoke=Config(datasets=("digits",), n_train=500, n_test=200,
                                            widths=(2, 8, 32), epochs=3, flat_epochs=1,
                                            fit_acc=0.9, check_epochs=6, check_from_width=32,
                                            seeds=(0, 1)))


def _train(cfg: Config, data, width: int, epochs: int) -> tuple[dict, str]:
    models = []
    for seed in cfg.seeds:
        torch.manual_seed(seed)
        models.append(image_mlp(data.input_shape, (width, width), data.num_classes))
    hists, _ = train_ensemble(models, data.x_train, data.y_train, data.x_test, data.y_test,
                              epochs=epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                              seeds=cfg.seeds, schedule="cosine",
                              desc=f"width {width}, {epochs} epochs")
    final = {k: [getattr(h, k)[-1] for h in hists] for k in METRICS}
    curves = {"train_loss_curve": [h.train_loss for h in hists],
              "test_acc_curve": [h.test_acc for h in hists]}
    return {"n_params": count_params(models[0]), "width": width, **final, **curves}, \
        data.source


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str]:
    return _train(cfg, load_subset(spec["dataset"], cfg.n_train, cfg.n_test), spec["width"],
                  spec["epochs"])


def run(cfg: Config, executor: Executor | None = None) -> dict[str, dict]:
    """Train (or load) every dataset x width. ``results[name]["rows"]`` holds per-width final
    metrics (one value per seed) and per-epoch train loss and test accuracy.

    Args:
        cfg: the experiment's settings.
        executor: runs the missing (dataset, width) ensembles; None: here, one after another.
    """
    base = {k: v for k, v in cfg.to_dict().items()
            if k not in ("datasets", "widths", "flat_epochs", "fit_acc", "check_epochs",
                         "check_from_width")}
    specs = [{**base, "dataset": name, "width": width}
             for name in cfg.datasets for width in cfg.widths]
    checks = [{**s, "epochs": cfg.check_epochs} for s in specs
              if s["width"] >= cfg.check_from_width]
    runs = RunStore(cfg.name).sweep([(s, list(cfg.seeds)) for s in specs + checks],
                                    partial(_unit, cfg), executor=executor)
    out: dict[str, dict] = {}
    for spec, stored in zip(specs + checks, runs, strict=True):
        entry = out.setdefault(spec["dataset"], {"rows": [], "check_rows": [], "source": None,
                                                 "epochs": cfg.epochs,
                                                 "check_epochs": cfg.check_epochs,
                                                 "flat_epochs": cfg.flat_epochs,
                                                 "fit_acc": cfg.fit_acc})
        entry["rows" if spec["epochs"] == cfg.epochs else "check_rows"].append(stored.result)
        entry["source"] = stored.data_source
    return out


def _flattening(row: dict, flat_epochs: int) -> np.ndarray:
    """Per seed: relative change of the train loss over the last ``flat_epochs`` epochs,
    ``(L[-1 - flat_epochs] − L[-1]) / L[-1 - flat_epochs]``."""
    curves = np.asarray(row["train_loss_curve"])
    before, end = curves[:, -1 - flat_epochs], curves[:, -1]
    return (before - end) / before


def _percent(fraction: float) -> str:
    """A fraction as a percentage with 3 significant digits (``0.138`` → ``"13.8%"``)."""
    from hw1.report import num

    return f"{num(100 * fraction)}%"


def _welch_cells(a, b, what: str) -> dict[str, str]:
    """``mean(a) − mean(b)`` with its 95% Welch interval, as two cells named after ``what``
    (the cells of :func:`hw1.report.welch`, renamed).

    Args:
        a, b: ``(seeds,)`` values of the two settings compared.
        what: the quantity and the comparison, e.g. ``"test acc: 40 − 20 ep"``.

    Returns:
        ``{"<what> [95% CI]": "+0.0402 [0.0171, 0.0634]", "<what>: CI excludes 0": "yes"}``.
    """
    from hw1.report import diff

    w = welch_difference(a, b)
    return {f"{what} [95% CI]": diff(w["difference"], w["ci95_low"], w["ci95_high"]),
            f"{what}: CI excludes 0": "yes" if w["excludes_0"] else "no"}


def _paired_cells(a, b, what: str) -> dict[str, str]:
    """``mean(a − b)`` over seeds with its 95% paired t-interval (``scipy.stats.ttest_rel``),
    as two cells named after ``what``.

    Args:
        a, b: ``(seeds,)`` values of the two settings compared, the same seeds in the same
            order (e.g. the longer and the main budget of one width).
        what: the quantity and the comparison, e.g. ``"Δ test acc"``.

    Returns:
        ``{"<what> [95% paired CI]": "+0.0402 [0.0171, 0.0634]", "<what>: CI excludes 0":
        "yes"}``.
    """
    from hw1.report import paired

    cells = paired(a, b)
    return {f"{what} [95% paired CI]": cells["difference [95% CI]"],
            f"{what}: CI excludes 0": cells["CI excludes 0"]}


def _label(results: dict, name: str) -> str:
    """The dataset's display name (``"CIFAR-10 (JPEG copy)"`` for the offline copy)."""
    return dataset_label(results[name]["source"], name)


def summary(results: dict, name: str):
    """One dataset's final metrics per width: parameters, train and test loss and accuracy,
    the loss gap test − train (mean ± 95% t half-width over seeds), and the largest relative
    drop of the train loss over the last epochs among the seeds (how flat the end of
    training is).

    Args:
        results: the output of :func:`run`.
        name: the dataset (a key of ``results``).

    Returns:
        A DataFrame (:func:`hw1.report.table`), one row per width.
    """
    from hw1.report import ci, table

    res = results[name]
    out = []
    for r in res["rows"]:
        flat = _flattening(r, res["flat_epochs"])
        out.append({"width w": r["width"], "parameters": r["n_params"],
                    "train loss": ci(r["train_loss"]), "train acc": ci(r["train_acc"]),
                    "train acc, lowest seed": float(np.min(r["train_acc"])),
                    "test loss": ci(r["test_loss"]), "test acc": ci(r["test_acc"]),
                    "loss gap (test − train)": ci(np.subtract(r["test_loss"],
                                                              r["train_loss"])),
                    f"train-loss drop, last {res['flat_epochs']} epochs": _percent(flat.max())})
    return table(out)


def fitting_regime(results: dict):
    """Per dataset: the smallest width whose every seed fits (train accuracy ≥ ``fit_acc``),
    and the test accuracy difference (95% Welch interval) between each larger width that
    also fits and it: does test accuracy keep changing once the training set is fitted? A
    row with no difference says when no wider width fits (or none fits at all).

    Returns:
        A DataFrame (:func:`hw1.report.table`).
    """
    from hw1.report import num, table

    out = []
    for name, res in results.items():
        rows = res["rows"]
        label = _label(results, name)
        fits = [min(r["train_acc"]) >= res["fit_acc"] for r in rows]
        if True not in fits:
            out.append({"dataset": label, "first fitting width": "none"})
            continue
        first = fits.index(True)
        wider = [r for r, f in zip(rows[first + 1:], fits[first + 1:], strict=True) if f]
        if not wider:
            out.append({"dataset": label, "first fitting width": rows[first]["width"],
                        "wider width w": "no wider width in the sweep"})
        for r in wider:
            out.append({"dataset": label, "first fitting width": rows[first]["width"],
                        "wider width w": r["width"], "parameters": num(r["n_params"]),
                        **_welch_cells(r["test_acc"], rows[first]["test_acc"],
                                       "test acc: w − first fitting")})
    return table(out)


def budget_check(results: dict):
    """Per dataset and checked width: the final train accuracy after the main budget and
    after the longer one (means over seeds), the test accuracy and loss differences
    longer − main with 95% paired t-intervals (both budgets train the same seeds from the
    same initializations), and the largest train-loss drop over the last
    ``flat_epochs`` epochs of the longer run.

    Returns:
        A DataFrame (:func:`hw1.report.table`), one row per dataset and checked width.
    """
    from hw1.report import table

    out = []
    for name, res in results.items():
        main = {r["width"]: r for r in res["rows"]}
        short, long_ = res["epochs"], res["check_epochs"]
        for r in res["check_rows"]:
            m = main[r["width"]]
            out.append({"dataset": _label(results, name), "width w": r["width"],
                        f"train acc, {short} ep": float(np.mean(m["train_acc"])),
                        f"train acc, {long_} ep": float(np.mean(r["train_acc"])),
                        **_paired_cells(r["test_acc"], m["test_acc"], "Δ test acc"),
                        **_paired_cells(r["test_loss"], m["test_loss"], "Δ test loss"),
                        f"train-loss drop, last {res['flat_epochs']} of {long_} ep":
                            _percent(_flattening(r, res["flat_epochs"]).max())})
    return table(out)


def differences_from_lowest_test_loss(results: dict, key: str = "test_acc"):
    """Per dataset, each wider width minus the width with the lowest mean test loss, in
    ``key``, with its 95% Welch interval: do accuracy and loss move together past it? A
    dataset whose lowest test loss is at the widest width gets a row saying so.

    Returns:
        A DataFrame (:func:`hw1.report.table`).
    """
    from hw1.report import table

    what = key.replace("_", " ")
    out = []
    for name, res in results.items():
        rows = res["rows"]
        ref = int(np.argmin([np.mean(r["test_loss"]) for r in rows]))
        if ref == len(rows) - 1:
            out.append({"dataset": _label(results, name),
                        "widths": f"none: lowest test loss at the widest, {rows[ref]['width']}"})
        for r in rows[ref + 1:]:
            out.append({"dataset": _label(results, name),
                        "widths": f"{r['width']} − {rows[ref]['width']}",
                        **_welch_cells(r[key], rows[ref][key], what)})
    return table(out)


def consecutive_differences(results: dict, name: str):
    """One dataset: each width minus the next smaller one in test accuracy and in test loss,
    with 95% Welch t-intervals: where does the curve still move?

    Args:
        results: the output of :func:`run`.
        name: the dataset (a key of ``results``).

    Returns:
        A DataFrame (:func:`hw1.report.table`), one row per pair of consecutive widths.
    """
    from hw1.report import table

    rows = results[name]["rows"]
    out = []
    for smaller, r in zip(rows, rows[1:], strict=False):
        out.append({"widths": f"{r['width']} − {smaller['width']}",
                    **_welch_cells(r["test_acc"], smaller["test_acc"], "test acc"),
                    **_welch_cells(r["test_loss"], smaller["test_loss"], "test loss")})
    return table(out)


def _width_axis(ax: plt.Axes, rows: list[dict]) -> None:
    """Mark the top of a parameters axis with the widths ``w`` of ``rows`` (unlabelled: the
    figure's title says so, which keeps the panel titles clear of the axis label)."""
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.xaxis.set_minor_formatter(NullFormatter())
    top = ax.secondary_xaxis("top")
    top.set_xticks([r["n_params"] for r in rows], labels=[str(r["width"]) for r in rows])
    top.xaxis.set_minor_locator(NullLocator())


def figure(results: dict, name: str) -> plt.Figure:
    """One dataset against the number of parameters (log x; the widths on the top axis):
    train (solid) and test (dashed) loss and accuracy, the test accuracy of widths ≥ 16 on
    an axis of its own with the seeds and the widths that fit their training set marked,
    and the loss gap test − train; each mean ± 95% t interval over seeds.

    Args:
        results: the output of :func:`run`.
        name: the dataset (a key of ``results``).

    Returns:
        The figure, saved as ``params_vs_generalization_<name>``.
    """
    from hw1.plotting import MAX_WIDTH_IN

    res = results[name]
    rows = res["rows"]
    params = np.array([r["n_params"] for r in rows])
    fig, axes = plt.subplots(2, 2, figsize=(MAX_WIDTH_IN - 0.6, 8.6))
    (ax_loss, ax_acc), (ax_zoom, ax_gap) = axes
    for ax, key, ylabel in ((ax_loss, "loss", "cross-entropy (log)"),
                            (ax_acc, "acc", "accuracy")):
        for split, fmt, color in (("train", "o-", "C0"), ("test", "s--", "C3")):
            mean, half = np.array([t_interval(r[f"{split}_{key}"]) for r in rows]).T
            # an accuracy interval is drawn clipped to [0, 1]; a loss one to (0, ∞)
            low = np.minimum(half, mean) if key == "acc" else np.minimum(half, 0.999 * mean)
            high = np.minimum(half, 1 - mean) if key == "acc" else half
            ax.errorbar(params, mean, yerr=[low, high], fmt=fmt, color=color, ms=3,
                        capsize=2, label=split)
        ax.set(xscale="log", xlabel="number of parameters (log)", ylabel=ylabel)
    ax_loss.set_yscale("log")
    ax_loss.set_title("loss")
    ax_acc.set_title("accuracy (intervals clipped to [0, 1])")
    ax_acc.legend(loc="lower right")
    ax_loss.legend(loc="lower left")

    zoom = [r for r in rows if r["width"] >= 16]
    p = np.array([r["n_params"] for r in zoom])
    mean, half = np.array([t_interval(r["test_acc"]) for r in zoom]).T
    ax_zoom.errorbar(p, mean, yerr=half, fmt="s--", color="C3", ms=3, capsize=2,
                     label="test (mean)")
    for i, r in enumerate(zoom):
        ax_zoom.plot([r["n_params"] * 1.08] * len(r["test_acc"]), r["test_acc"], ".",
                     color="k", alpha=0.5, ms=4, label="test, each seed" if i == 0 else None)
    fitted = [r for r in zoom if min(r["train_acc"]) >= res["fit_acc"]]
    for i, r in enumerate(fitted):
        ax_zoom.axvspan(r["n_params"] / 1.3, r["n_params"] * 1.3, color="grey", alpha=0.15,
                        lw=0, label=f"every seed ≥ {100 * res['fit_acc']:g}% train acc"
                        if i == 0 else None)
    ax_zoom.set(xscale="log", xlabel="number of parameters (log)",
                ylabel="test accuracy (zoomed)", title="test accuracy, widths ≥ 16")
    # below the axes, clear of the grey bands and the seeds' dots
    ax_zoom.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=9,
                   frameon=False)

    mean, half = np.array([t_interval(np.subtract(r["test_loss"], r["train_loss"]))
                           for r in rows]).T
    ax_gap.errorbar(params, mean, yerr=half, fmt="o-", color="k", ms=3, capsize=2)
    ax_gap.set(xscale="log", xlabel="number of parameters (log)",
               ylabel="test loss − train loss", title="loss gap")
    for ax, shown in ((ax_loss, rows), (ax_acc, rows), (ax_zoom, zoom), (ax_gap, rows)):
        _width_axis(ax, shown)
    seeds = len(rows[0]["train_loss"])
    fig.suptitle(f"{_label(results, name)}: one MLP structure (input-w-w-10) at {len(rows)} "
                 f"widths w, each trained for a fixed {res['epochs']} cosine epochs\n"
                 f"({seeds} seeds; error bars: 95% t interval over seeds; "
                 f"top axes: width w)")
    fig.tight_layout()
    save_figure(fig, f"params_vs_generalization_{name}")
    return fig


def make_figures(results: dict) -> list[plt.Figure]:
    """Every figure of the notebook: :func:`figure` for each dataset."""
    return [figure(results, name) for name in results]
