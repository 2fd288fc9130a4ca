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


def _ci(values, digits: int = 4) -> str:
    mean, half = t_interval(values)
    return f"{mean:.{digits}g} ± {half:.2g}"


def _flattening(row: dict, flat_epochs: int) -> np.ndarray:
    """Per seed: relative change of the train loss over the last ``flat_epochs`` epochs,
    ``(L[-1 - flat_epochs] − L[-1]) / L[-1 - flat_epochs]``."""
    curves = np.asarray(row["train_loss_curve"])
    before, end = curves[:, -1 - flat_epochs], curves[:, -1]
    return (before - end) / before


def summary(results: dict) -> list[dict]:
    """Per dataset and width: parameters, final train/test loss and accuracy and the loss gap
    (mean ± 95% t half-width over seeds), and the largest relative drop of the train loss
    over the last epochs among the seeds (how flat the end of training is)."""
    out = []
    for name, res in results.items():
        for r in res["rows"]:
            flat = _flattening(r, res["flat_epochs"])
            out.append({"dataset": name, "width": r["width"], "params": r["n_params"],
                        **{k: _ci(r[k]) for k in METRICS},
                        "gap_loss": _ci(np.subtract(r["test_loss"], r["train_loss"]), 3),
                        f"train-loss drop, last {res['flat_epochs']} epochs (max)":
                            f"{flat.max():.1%}"})
    return out


def fitting_regime(results: dict) -> list[dict]:
    """Per dataset: the smallest width whose every seed fits (train accuracy ≥ ``fit_acc``),
    and the test accuracy difference (95% Welch interval) between each larger width that
    also fits and it: does test accuracy keep changing once the training set is fitted? A
    row with no difference says when no wider width fits (or none fits at all)."""
    out = []
    for name, res in results.items():
        rows = res["rows"]
        fits = [min(r["train_acc"]) >= res["fit_acc"] for r in rows]
        if True not in fits:
            out.append({"dataset": name, "first fitting width": "none"})
            continue
        first = fits.index(True)
        wider = [r for r, f in zip(rows[first + 1:], fits[first + 1:], strict=True) if f]
        if not wider:
            out.append({"dataset": name, "first fitting width": rows[first]["width"],
                        "width": "no wider width in the sweep"})
        for r in wider:
            out.append({"dataset": name, "first fitting width": rows[first]["width"],
                        "width": r["width"], "params": r["n_params"],
                        **welch_difference(r["test_acc"], rows[first]["test_acc"])})
    return out


def budget_check(results: dict) -> list[dict]:
    """Per dataset and checked width: the final train accuracy, test accuracy and test loss
    after the main budget and after the longer one (means over seeds), the test differences
    longer − main with 95% Welch intervals, and the largest train-loss drop over the last
    ``flat_epochs`` epochs of the longer run."""
    out = []
    for name, res in results.items():
        main = {r["width"]: r for r in res["rows"]}
        for r in res["check_rows"]:
            m = main[r["width"]]
            acc = welch_difference(r["test_acc"], m["test_acc"])
            loss = welch_difference(r["test_loss"], m["test_loss"])
            out.append({"dataset": name, "width": r["width"],
                        f"train acc {res['epochs']}→{res['check_epochs']} ep":
                            f"{np.mean(m['train_acc']):.4f} → {np.mean(r['train_acc']):.4f}",
                        "test acc diff": f"{acc['difference']:+.4f} [{acc['ci95_low']:.4f}, "
                                         f"{acc['ci95_high']:.4f}]",
                        "test loss diff": f"{loss['difference']:+.4f} [{loss['ci95_low']:.4f}, "
                                          f"{loss['ci95_high']:.4f}]",
                        f"drop, last {res['flat_epochs']} ep":
                            f"{_flattening(r, res['flat_epochs']).max():.1%}"})
    return out


def differences_from_lowest_test_loss(results: dict, key: str = "test_acc") -> list[dict]:
    """Per dataset, each wider width minus the width with the lowest mean test loss, in
    ``key``, with its 95% Welch interval: do accuracy and loss move together past it?"""
    out = []
    for name, res in results.items():
        rows = res["rows"]
        ref = int(np.argmin([np.mean(r["test_loss"]) for r in rows]))
        for r in rows[ref + 1:]:
            out.append({"dataset": name, "quantity": key,
                        "widths": f"{r['width']} − {rows[ref]['width']}",
                        **welch_difference(r[key], rows[ref][key])})
    return out


def consecutive_differences(results: dict, key: str = "test_acc") -> list[dict]:
    """Per dataset, each width minus the next smaller one in ``key`` (``test_acc`` or
    ``test_loss``), with its 95% Welch t-interval: where does the curve still move?"""
    out = []
    for name, res in results.items():
        rows = res["rows"]
        for smaller, r in zip(rows, rows[1:], strict=False):
            out.append({"dataset": name, "quantity": key,
                        "widths": f"{r['width']} − {smaller['width']}",
                        **welch_difference(r[key], smaller[key])})
    return out


def make_figures(results: dict) -> list[plt.Figure]:
    """Per dataset: loss and accuracy vs number of parameters (log x), train solid, test
    dashed, mean ± 95% t interval; and the test accuracy of widths ≥ 16 on an axis of its
    own, with the seeds and the widths that fit their training set marked."""
    figs = []
    for name, res in results.items():
        rows = res["rows"]
        params = np.array([r["n_params"] for r in rows])
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.0))
        for ax, key, ylabel in ((axes[0], "loss", "cross-entropy (log)"),
                                (axes[1], "acc", "accuracy")):
            for split, fmt, color in (("train", "o-", "C0"), ("test", "s--", "C3")):
                mean, half = np.array([t_interval(r[f"{split}_{key}"]) for r in rows]).T
                # an accuracy interval is drawn clipped to [0, 1]; a loss one to (0, ∞)
                low = np.minimum(half, mean) if key == "acc" else np.minimum(half, 0.999 * mean)
                high = np.minimum(half, 1 - mean) if key == "acc" else half
                ax.errorbar(params, mean, yerr=[low, high], fmt=fmt, color=color, ms=3,
                            capsize=2, label=split)
            ax.set(xscale="log", xlabel="number of parameters (log)", ylabel=ylabel)
        axes[0].set_yscale("log")
        axes[0].set_title("loss")
        axes[1].set_title("accuracy, all widths (intervals clipped to [0, 1])")
        zoom = [r for r in rows if r["width"] >= 16]
        p = np.array([r["n_params"] for r in zoom])
        mean, half = np.array([t_interval(r["test_acc"]) for r in zoom]).T
        axes[2].errorbar(p, mean, yerr=half, fmt="s--", color="C3", ms=3, capsize=2)
        for r in zoom:
            axes[2].plot([r["n_params"] * 1.08] * len(r["test_acc"]), r["test_acc"], ".",
                         color="k", alpha=0.5, ms=3)
        for r in zoom:
            if min(r["train_acc"]) >= res["fit_acc"]:
                axes[2].axvspan(r["n_params"] / 1.3, r["n_params"] * 1.3, color="grey",
                                alpha=0.12, lw=0)
        axes[2].set(xscale="log", xlabel="number of parameters (log)",
                    ylabel="test accuracy (zoomed)")
        axes[2].set_title(f"test accuracy, widths ≥ 16 (black dots: seeds; shaded: every "
                          f"seed ≥ {100 * res['fit_acc']:g}% train acc)", fontsize=9)
        handles, labels = axes[1].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
        seeds = len(rows[0]["train_loss"])
        fig.suptitle(f"{dataset_label(res['source'], name)}: one MLP structure at "
                     f"{len(params)} widths, {res['epochs']} cosine epochs each ({seeds} seeds: "
                     "mean ± 95% t interval)", fontsize=10)
        fig.tight_layout(rect=(0, 0.06, 1, 1))
        save_figure(fig, f"params_vs_generalization_{name}")
        figs.append(fig)
    return figs
