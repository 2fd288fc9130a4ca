"""HW1-3 (can a network fit random labels?): training labels replaced once by a seeded
permutation that stays fixed for the whole run; a network large enough to memorize them."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import matplotlib.pyplot as plt
import torch

from hw1.config import ExperimentConfig
from hw1.data import DATASETS, dataset_label, load_subset
from hw1.models import count_params, image_mlp
from hw1.plotting import save_figure
from hw1.store import RunStore
from hw1.training import train


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the random-label experiment.

    Attributes:
        datasets: dataset names; n_train, n_test: seeded subset sizes.
        widths: hidden widths of the MLP that memorizes.
        max_epochs: epoch limit; training stops earlier once train accuracy passes
            ``target_train_acc``.
        batch_size, lr: Adam settings.
        seed: model initialization, batch order and the label permutation.
    """

    name: ClassVar[str] = "random_labels"
    positive: ClassVar[tuple[str, ...]] = ("n_train", "n_test", "widths", "max_epochs",
                                           "batch_size", "lr", "target_train_acc")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"datasets": DATASETS}
    datasets: tuple[str, ...] = ("mnist", "cifar10")
    n_train: int = 3_000
    n_test: int = 2_000
    widths: tuple[int, ...] = (512, 512)
    max_epochs: int = 100
    target_train_acc: float = 0.95
    batch_size: int = 100
    lr: float = 1e-3
    seed: int = 0


Config.register(full=Config(), smoke=Config(datasets=("digits",), n_train=300, n_test=100,
                                            widths=(64,), max_epochs=3))


def shuffled_labels(y: torch.Tensor, seed: int) -> torch.Tensor:
    """Labels permuted once by a seeded generator: same seed, same labels, every time."""
    return y[torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))]


def _train(cfg: Config, name: str) -> tuple[dict, str]:
    data = load_subset(name, cfg.n_train, cfg.n_test)
    y_random = shuffled_labels(data.y_train, cfg.seed)
    torch.manual_seed(cfg.seed)
    model = image_mlp(data.input_shape, cfg.widths, data.num_classes)
    hist = train(model, data.x_train, y_random, data.x_test, data.y_test, epochs=cfg.max_epochs,
                 batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed,
                 stop_when=lambda h: h.train_acc[-1] > cfg.target_train_acc,
                 desc=f"{name}, random labels")
    kept = float((y_random == data.y_train).float().mean())
    return ({"history": hist.to_dict(), "n_params": count_params(model),
             "labels_unchanged_fraction": kept},
            data.source + "; training labels randomly permuted once")


def _unit(cfg: Config, spec: dict, seed: int) -> tuple[dict, str]:
    return _train(cfg, spec["dataset"])


def run(cfg: Config, executor: Executor | None = None) -> dict[str, dict]:
    """Train (or load) one run per dataset; ``results[name]`` holds the history.

    Args:
        cfg: the experiment's settings.
        executor: runs the missing datasets' runs; None: here, one after another.
    """
    base = {k: v for k, v in cfg.to_dict().items() if k != "datasets"}
    items = [({**base, "dataset": name}, cfg.seed) for name in cfg.datasets]
    runs = RunStore(cfg.name).sweep(items, partial(_unit, cfg), executor=executor)
    return {name: {**stored.result, "source": stored.data_source}
            for name, stored in zip(cfg.datasets, runs, strict=True)}


def summary(results: dict) -> list[dict]:
    """Per dataset: epochs run, final train/test accuracy and loss."""
    rows = []
    for name, r in results.items():
        h = r["history"]
        rows.append({"dataset": name, "params": r["n_params"], "epochs": h["epoch"][-1],
                     "train_acc": h["train_acc"][-1], "test_acc": h["test_acc"][-1],
                     "train_loss": h["train_loss"][-1], "test_loss": h["test_loss"][-1],
                     "best_test_acc": max(h["test_acc"]),
                     "labels_unchanged": r["labels_unchanged_fraction"]})
    return rows


def make_figures(results: dict) -> list[plt.Figure]:
    """Loss and accuracy per epoch, train (random labels) vs test (true labels)."""
    names = list(results)
    fig, axes = plt.subplots(1, 2 * len(names), figsize=(5 * len(names) * 2 * 0.55 + 1, 3.6),
                             squeeze=False)
    for i, name in enumerate(names):
        h, label = results[name]["history"], dataset_label(results[name]["source"], name)
        ax_l, ax_a = axes[0, 2 * i], axes[0, 2 * i + 1]
        ax_l.plot(h["epoch"], h["train_loss"], label="train (random labels)")
        ax_l.plot(h["epoch"], h["test_loss"], "--", label="test (true labels)")
        ax_l.set(xlabel="epoch", ylabel="cross-entropy", title=f"{label}: loss")
        ax_a.plot(h["epoch"], h["train_acc"], label="train (random labels)")
        ax_a.plot(h["epoch"], h["test_acc"], "--", label="test (true labels)")
        ax_a.axhline(0.1, color="grey", lw=0.8, ls=":", label="chance")
        ax_a.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1), title=f"{label}: accuracy")
        ax_a.legend(fontsize=7)
    save_figure(fig, "random_labels")
    return [fig]
