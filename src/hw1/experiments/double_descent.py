"""Beyond HW1-3: model-wise double descent (Belkin et al. 2019; Nakkiran et al. 2019) at CPU
size. A few thousand MNIST images with a fixed fraction of noisy labels; one-hidden-layer MLPs
whose parameter counts span the interpolation threshold P ≈ n·K (n training images, K
classes); every width trained for the same budget; test error and loss against parameters.
The seeds of one width train as one stacked ensemble."""

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
from hw1.experiments.random_labels import corrupt_labels
from hw1.intervals import t_interval, welch_difference
from hw1.models import count_params, image_mlp
from hw1.plotting import save_figure
from hw1.store import RunStore
from hw1.training import loss_function

NOISE_SEED = 12_345
"""Seeds the one noisy label set that every width and seed trains on."""


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the double-descent sweep.

    Attributes:
        dataset, n_train: a seeded training subset (the whole test split is used).
        label_noise: fraction of training labels replaced by uniformly random classes (one
            fixed draw for every model), in [0, 1).
        widths: hidden widths of the one-hidden-layer MLP ``in-w-classes``.
        epochs, batch_size, lr: Adam at a constant rate, the same budget for every width.
        record_every: epochs between recorded train/test evaluations.
        seeds: initialization and batch order.
    """

    name: ClassVar[str] = "double_descent"
    positive: ClassVar[tuple[str, ...]] = ("n_train", "widths", "epochs", "batch_size", "lr",
                                           "record_every")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"dataset": DATASETS}
    dataset: str = "mnist"
    n_train: int = 4_000
    label_noise: float = 0.2
    widths: tuple[int, ...] = (2, 4, 6, 8, 10, 12, 16, 20, 30, 40, 50, 100, 200, 400)
    epochs: int = 300
    batch_size: int = 128
    lr: float = 1e-3
    record_every: int = 25
    seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.label_noise < 1:
            raise ValueError(f"label_noise must lie in [0, 1), got {self.label_noise}")
        if len(self.seeds) < 2:
            raise ValueError(f"need at least 2 seeds for intervals, got {self.seeds}")
        if list(self.widths) != sorted(set(self.widths)):
            raise ValueError(f"widths must be increasing without repeats, got {self.widths}")


Config.register(full=Config(), smoke=Config(dataset="digits", n_train=300,
                                            widths=(2, 4, 16, 64), epochs=20, record_every=10,
                                            seeds=(0, 1)))


def _data(cfg: Config):
    data = load_subset(cfg.dataset, cfg.n_train, 10 ** 9)
    noisy = corrupt_labels(data.y_train, cfg.label_noise, data.num_classes,
                           torch.Generator().manual_seed(NOISE_SEED))
    return data, noisy


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str]:
    data, noisy = _data(cfg)
    width = spec["width"]
    models = []
    for s in seeds:
        torch.manual_seed(s)
        models.append(image_mlp(data.input_shape, (width,), data.num_classes))
    hists, ens = train_ensemble(models, data.x_train, noisy, data.x_test, data.y_test,
                                epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                                seeds=seeds, record_every=cfg.record_every,
                                desc=f"width {width}")
    changed = noisy != data.y_train
    _, acc_on_noisy = evaluate_ensemble(ens, loss_function("cross_entropy"),
                                        data.x_train[changed], noisy[changed])
    return ({"width": width, "n_params": count_params(models[0]),
             "n_train": len(data.y_train), "n_test": len(data.y_test),
             "num_classes": data.num_classes, "labels_changed": changed.float().mean().item(),
             "rows": [{"seed": s, "train_loss": h.train_loss[-1], "train_acc": h.train_acc[-1],
                       "test_loss": h.test_loss[-1], "test_acc": h.test_acc[-1],
                       "noisy_labels_fitted": acc_on_noisy[r].item(),
                       "history": {k: getattr(h, k) for k in ("epoch", "train_acc",
                                                              "test_acc")}}
                      for r, (s, h) in enumerate(zip(seeds, hists, strict=True))]},
            data.source)


def run(cfg: Config, executor: Executor | None = None) -> dict:
    """Train (or load) every width, all seeds at once.

    Args:
        cfg: the experiment's settings.
        executor: runs the missing widths; None: here, one after another.

    Returns:
        ``{"dataset", "source", "n_train", "num_classes", "threshold" (n·K), "label_noise",
        "labels_changed", "epochs", "widths": [one dict per width with "n_params" and
        per-seed "rows"]}``.
    """
    base = {k: v for k, v in cfg.to_dict().items() if k not in ("widths", "seeds")}
    items = [({**base, "width": w}, list(cfg.seeds)) for w in cfg.widths]
    runs = RunStore(cfg.name).sweep(items, partial(_unit, cfg), executor=executor)
    first = runs[0].result
    return {"dataset": cfg.dataset, "source": runs[0].data_source, "n_train": first["n_train"],
            "n_test": first["n_test"], "num_classes": first["num_classes"],
            "threshold": first["n_train"] * first["num_classes"],
            "label_noise": cfg.label_noise, "labels_changed": first["labels_changed"],
            "epochs": cfg.epochs, "widths": [r.result for r in runs]}


def _column(entry: dict, key: str, epoch: int | None = None) -> np.ndarray:
    """Per seed: ``key`` at the end of training, or, for ``train_error``/``test_error`` and
    an ``epoch`` in the recorded history, at that epoch."""
    if epoch is not None:
        acc = key.replace("_error", "_acc")
        return 1 - np.array([r["history"][acc][r["history"]["epoch"].index(epoch)]
                             for r in entry["rows"]])
    if key.endswith("_error"):
        return 1 - np.array([r[key.replace("_error", "_acc")] for r in entry["rows"]])
    return np.array([r[key] for r in entry["rows"]], dtype=float)


def first_interpolating(results: dict) -> dict | None:
    """The first width at which every seed has exactly zero training error on the noisy
    labels (None if none does)."""
    for e in results["widths"]:
        if np.all(_column(e, "train_error") == 0):
            return e
    return None


def _ci(values, digits: int = 3) -> str:
    mean, half = t_interval(values)
    return f"{mean:.{digits}g} ± {half:.2g}"


def summary(results: dict) -> list[dict]:
    """Per width: parameters (and as a multiple of n·K), train error on the noisy labels,
    the fraction of the noisy labels fitted, test error and loss, train loss (mean ± 95% t
    half-width over seeds)."""
    return [{"width": e["width"], "params": e["n_params"],
             "params / nK": round(e["n_params"] / results["threshold"], 3),
             "train error": _ci(_column(e, "train_error")),
             "noisy labels fitted": _ci(_column(e, "noisy_labels_fitted")),
             "test error": _ci(_column(e, "test_error")),
             "train loss": _ci(_column(e, "train_loss")),
             "test loss": _ci(_column(e, "test_loss"))}
            for e in results["widths"]]


def peak(results: dict, key: str = "test_error", epoch: int | None = None) -> list[dict]:
    """Locate the peak of ``key`` (mean over seeds) that follows a descent.

    Candidates are the interior local maxima of the mean curve over widths (a mean at least
    as high as both neighbours' means). For each, the classical optimum is the lowest mean
    among all smaller widths; the peak is the candidate that rises most above its optimum.
    There is none when the curve has no interior local maximum. Both widths are chosen after
    looking at the means, so the Welch intervals below (which ignore that selection) are
    optimistic.

    Args:
        results: from :func:`run`.
        key: ``test_error``, ``test_loss``, ...; at the end of training, or
        epoch: at this recorded epoch (``test_error`` and ``train_error`` only).

    Returns:
        Two rows, each a difference with its 95% Welch t-interval: peak minus classical
        optimum, and peak minus the largest width; with the peak's parameters as a multiple
        of n·K. Empty when there is no peak.
    """
    widths = results["widths"]
    means = np.array([_column(e, key, epoch).mean() for e in widths])
    choice, rise = None, 0.0
    for top in range(1, len(widths) - 1):
        left = int(np.argmin(means[:top]))
        if (means[top] >= means[top - 1] and means[top] >= means[top + 1]
                and means[top] - means[left] > rise):
            choice, rise = (left, top), means[top] - means[left]
    if choice is None:
        return []
    best, top = choice
    rows = []
    for other, name in ((best, "classical optimum"), (len(widths) - 1, "largest width")):
        rows.append({"quantity": key, "epoch": epoch or results.get("epochs"),
                     "peak width": widths[top]["width"], "peak params": widths[top]["n_params"],
                     "peak params / nK": round(widths[top]["n_params"] / results["threshold"], 3),
                     "minus": f"{name} (width {widths[other]['width']})",
                     **welch_difference(_column(widths[top], key, epoch),
                                        _column(widths[other], key, epoch))})
    return rows


def recorded_epochs(results: dict) -> list[int]:
    """The epochs at which every model's train and test accuracy were recorded."""
    return [ep for ep in results["widths"][0]["rows"][0]["history"]["epoch"] if ep > 0]


def error_by_epoch(results: dict, key: str = "test_error") -> list[dict]:
    """Per width: the mean of ``key`` over seeds at every recorded epoch (the budget's
    effect, from the stored histories)."""
    return [{"width": e["width"], "params": e["n_params"],
             **{f"ep {ep}": round(float(_column(e, key, ep).mean()), 3)
                for ep in recorded_epochs(results)}}
            for e in results["widths"]]


def peaks_over_epochs(results: dict) -> list[dict]:
    """At every recorded epoch: the test-error peak and classical optimum found by
    :func:`peak` and the rise between them with its 95% Welch interval (a row saying "none"
    when the curve has no peak at that epoch)."""
    out = []
    for ep in recorded_epochs(results):
        rows = peak(results, "test_error", ep)
        if not rows:
            out.append({"epoch": ep, "peak width": "none"})
            continue
        r = rows[0]
        out.append({"epoch": ep, "peak width": r["peak width"],
                    "peak params / nK": r["peak params / nK"], "minus": r["minus"],
                    "rise": r["difference"], "ci95_low": r["ci95_low"],
                    "ci95_high": r["ci95_high"], "excludes_0": r["excludes_0"]})
    return out


def make_figures(results: dict) -> list[plt.Figure]:
    """Error and cross-entropy against parameters (log x): train (on the noisy labels) solid,
    test dashed, mean ± 95% t interval, n·K marked."""
    widths = results["widths"]
    params = np.array([e["n_params"] for e in widths])
    label = dataset_label(results["source"], results["dataset"])
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.3))
    for ax, key, ylabel in ((axes[0], "error", "error"), (axes[1], "loss", "cross-entropy")):
        for split, fmt, color in (("train", "o-", "C0"), ("test", "s--", "C3")):
            mean, half = np.array([t_interval(_column(e, f"{split}_{key}"))
                                   for e in widths]).T
            ax.errorbar(params, mean, yerr=half, fmt=fmt, color=color, ms=3, capsize=2,
                        label=f"{split} ({'noisy' if split == 'train' else 'true'} labels)")
        ax.axvline(results["threshold"], color="grey", ls=":", lw=1,
                   label=f"n·K = {results['threshold']:,}")
        ax.set(xscale="log", xlabel="number of parameters (log)", ylabel=ylabel)
    first = first_interpolating(results)
    if first is not None:
        for ax in axes[:2]:
            ax.plot([first["n_params"]], [0], "v", color="k", ms=8, clip_on=False,
                    label="first width with 0 train error (all seeds)")
    axes[0].set_title(f"error after {results['epochs']} epochs")
    axes[1].set_title(f"cross-entropy after {results['epochs']} epochs")
    epochs = recorded_epochs(results)
    shown = sorted({epochs[0], epochs[len(epochs) // 3], epochs[-1]})
    colors = plt.cm.plasma(np.linspace(0.1, 0.8, len(shown)))
    for ep, color in zip(shown, colors, strict=True):
        mean, half = np.array([t_interval(_column(e, "test_error", ep)) for e in widths]).T
        axes[2].errorbar(params, mean, yerr=half, fmt="s--", color=color, ms=3, capsize=2,
                         label=f"test, epoch {ep}")
    axes[2].axvline(results["threshold"], color="grey", ls=":", lw=1)
    axes[2].set(xscale="log", xlabel="number of parameters (log)", ylabel="test error",
                title="test error over training (mean ± 95% t)")
    axes[2].legend(fontsize=8, loc="upper right")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False)
    seeds = len(widths[0]["rows"])
    fig.suptitle(f"{label}: one-hidden-layer MLPs, {results['label_noise']:.0%} of labels "
                 f"redrawn ({results['labels_changed']:.1%} changed), {results['epochs']} "
                 f"epochs each ({seeds} seeds: mean ± 95% t interval)", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    save_figure(fig, "double_descent")
    return [fig]
