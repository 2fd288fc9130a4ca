"""HW1-3 flatness part 2 and bonus: models trained alike except for the batch size; per batch
size the train/test loss and accuracy, both sensitivity readings, ε-sharpness at two ε and
the top Hessian eigenvalue."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import NullFormatter
from torch import nn

from hw1.config import ExperimentConfig
from hw1.data import DATASETS, dataset_label, load_subset, subset
from hw1.metrics import sensitivities, sharpness, top_hessian_eigenvalue
from hw1.models import count_params, image_mlp
from hw1.plotting import save_figure
from hw1.store import RunStore
from hw1.training import train

METRICS = ("train_loss", "test_loss", "train_acc", "test_acc", "sensitivity_jacobian",
           "sensitivity_loss_gradient", "sharpness_1e-3", "sharpness_5e-4", "top_eigenvalue")


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the batch-size sweep.

    Attributes:
        dataset, n_train, n_test: data (seeded subset).
        widths: hidden widths of the MLP.
        batch_sizes: the sweep (log scale); everything else is fixed.
        epochs, lr: Adam settings, the same for every batch size.
        seeds: runs per batch size.
        n_metric: test images for the sensitivities and training images for sharpness and
            the top Hessian eigenvalue.
    """

    name: ClassVar[str] = "sensitivity_sharpness"
    positive: ClassVar[tuple[str, ...]] = ("n_train", "n_test", "widths", "batch_sizes",
                                           "epochs", "lr", "n_metric")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"dataset": DATASETS}
    dataset: str = "mnist"
    n_train: int = 10_000
    n_test: int = 2_000
    widths: tuple[int, ...] = (64, 64)
    batch_sizes: tuple[int, ...] = (16, 64, 256, 1024, 4096)
    epochs: int = 10
    lr: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2)
    n_metric: int = 1_000


Config.register(full=Config(), smoke=Config(dataset="digits", n_train=500, n_test=200,
                                            widths=(16,), batch_sizes=(16, 128, 512), epochs=2,
                                            seeds=(0,), n_metric=100))


def _train_and_measure(cfg: Config, data, batch_size: int, seed: int) -> tuple[dict, str]:
    torch.manual_seed(seed)
    model = image_mlp(data.input_shape, cfg.widths, data.num_classes)
    hist = train(model, data.x_train, data.y_train, data.x_test, data.y_test, epochs=cfg.epochs,
                 batch_size=batch_size, lr=cfg.lr, seed=seed, desc=f"batch {batch_size}")
    gen = torch.Generator().manual_seed(1234)
    x_te, y_te = subset(data.x_test, data.y_test, cfg.n_metric, gen)
    x_tr, y_tr = subset(data.x_train, data.y_train, cfg.n_metric, gen)
    ce = nn.functional.cross_entropy
    sens = sensitivities(model, x_te, y_te)
    result = {
        "train_loss": hist.train_loss[-1], "test_loss": hist.test_loss[-1],
        "train_acc": hist.train_acc[-1], "test_acc": hist.test_acc[-1],
        "sensitivity_jacobian": sens["jacobian"],
        "sensitivity_loss_gradient": sens["loss_gradient"],
        "sharpness_1e-3": sharpness(model, ce, x_tr, y_tr, epsilon=1e-3),
        "sharpness_5e-4": sharpness(model, ce, x_tr, y_tr, epsilon=5e-4),
        "top_eigenvalue": top_hessian_eigenvalue(model, ce, x_tr, y_tr),
        "n_params": count_params(model),
    }
    return result, data.source


def _unit(cfg: Config, spec: dict, seed: int) -> tuple[dict, str]:
    data = load_subset(cfg.dataset, cfg.n_train, cfg.n_test)
    return _train_and_measure(cfg, data, spec["batch_size"], seed)


def run(cfg: Config, executor: Executor | None = None) -> dict:
    """Train and measure (or load) every batch size x seed.

    Args:
        cfg: the experiment's settings.
        executor: runs the missing (batch size, seed) runs; None: here, one after another.

    Returns:
        ``{"batch_sizes", "dataset", "source", "metrics": {metric: (B, S) nested lists}}``.
    """
    base = {k: v for k, v in cfg.to_dict().items() if k not in ("batch_sizes", "seeds")}
    items = [({**base, "batch_size": bs}, seed) for bs in cfg.batch_sizes for seed in cfg.seeds]
    runs = RunStore(cfg.name).sweep(items, partial(_unit, cfg), executor=executor)
    table = {m: [] for m in METRICS}
    n_seeds = len(cfg.seeds)
    for b in range(len(cfg.batch_sizes)):
        per_seed = [stored.result for stored in runs[b * n_seeds:(b + 1) * n_seeds]]
        for m in METRICS:
            table[m].append([r[m] for r in per_seed])
    source = runs[-1].data_source
    return {"batch_sizes": list(cfg.batch_sizes), "dataset": cfg.dataset, "source": source,
            "metrics": table}


def summary(results: dict) -> list[dict]:
    """Mean over seeds of every metric, per batch size."""
    rows = []
    for i, bs in enumerate(results["batch_sizes"]):
        rows.append({"batch": bs, **{m: float(np.mean(results["metrics"][m][i]))
                                     for m in METRICS}})
    return rows


def _twin(ax, x, left: dict, right: dict, left_label: str, right_label: str,
          right_log: bool = False) -> None:
    """Left-axis series (blue) and right-axis series (red); mean with min-max error bars."""
    ax2 = ax.twinx()
    for axis, series, color in ((ax, left, "C0"), (ax2, right, "C3")):
        for (label, vals), style in zip(series.items(), ("-o", "--s"), strict=False):
            vals = np.asarray(vals, dtype=float)
            mean = vals.mean(1)
            axis.errorbar(x, mean, yerr=[mean - vals.min(1), vals.max(1) - mean], fmt=style,
                          color=color, ms=3, capsize=2, label=label)
    ax.set_xscale("log")
    ax.set_xticks(x, [str(v) for v in x])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("batch size (log)")
    ax.set_ylabel(left_label, color="C0")
    ax2.set_ylabel(right_label, color="C3")
    if right_log:
        ax2.set_yscale("log")
    ax2.spines["right"].set_visible(True)
    ax2.grid(False)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7)


def make_figures(results: dict) -> list[plt.Figure]:
    """Batch size (log x) against loss/accuracy and each flatness measure, twin y axes."""
    x = np.asarray(results["batch_sizes"])
    m = results["metrics"]
    label = dataset_label(results["source"], results["dataset"])
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    panels = [
        ({"train loss": m["train_loss"], "test loss": m["test_loss"]},
         {"train accuracy": m["train_acc"], "test accuracy": m["test_acc"]},
         "cross-entropy", "accuracy", "loss and accuracy"),
        ({"train loss": m["train_loss"], "test loss": m["test_loss"]},
         {"Jacobian of softmax (Novak)": m["sensitivity_jacobian"],
          "per-sample loss gradient": m["sensitivity_loss_gradient"]},
         "cross-entropy", "sensitivity ‖·‖_F (mean over test images)", "sensitivity"),
        ({"train loss": m["train_loss"], "test loss": m["test_loss"]},
         {"ε = 1e-3": m["sharpness_1e-3"], "ε = 5e-4": m["sharpness_5e-4"]},
         "cross-entropy", "ε-sharpness (Keskar, %)", "sharpness"),
        ({"train loss": m["train_loss"], "test loss": m["test_loss"]},
         {"top Hessian eigenvalue": m["top_eigenvalue"]},
         "cross-entropy", "largest Hessian eigenvalue", "top Hessian eigenvalue (Lanczos)"),
    ]
    for ax, (left, right, ll, rl, title) in zip(axes.flat, panels, strict=True):
        _twin(ax, x, left, right, ll, rl, right_log=title != "loss and accuracy")
        ax.set_title(title)
    seeds = len(m["train_loss"][0])
    fig.suptitle(f"{label}: batch-size sweep ({seeds} seeds: mean, min-max)")
    fig.tight_layout()
    save_figure(fig, "sensitivity_sharpness_vs_batch_size")
    return [fig]
