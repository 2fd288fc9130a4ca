"""HW1-1 (train on an actual task): CNNs of different depth with equal parameter counts on
MNIST and CIFAR-10 (the JPEG copy offline), several seeds each."""

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
from hw1.models import cnn_with_params, count_params, widths_of
from hw1.plotting import band, save_figure
from hw1.store import RunStore
from hw1.training import History, train


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the actual-task experiment.

    Attributes:
        datasets: dataset names (see :func:`hw1.data.load_dataset`).
        n_params: parameter count per dataset (same order as ``datasets``).
        epochs: epochs per dataset (same order as ``datasets``).
        n_train, n_test: training/test subset sizes per dataset (a seeded random subset, the
            same for every model; the CPU budget does not allow the full sets for 18 runs).
        depths: numbers of conv layers to compare.
        batch_size, lr: Adam settings.
        seeds: one run per seed.
    """

    name: ClassVar[str] = "train_actual_task"
    positive: ClassVar[tuple[str, ...]] = ("n_params", "epochs", "n_train", "n_test", "depths",
                                           "batch_size", "lr")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"datasets": DATASETS}
    datasets: tuple[str, ...] = ("mnist", "cifar10")
    n_params: tuple[int, ...] = (6_000, 10_000)
    epochs: tuple[int, ...] = (6, 6)
    n_train: tuple[int, ...] = (12_000, 10_000)
    n_test: tuple[int, ...] = (4_000, 4_000)
    depths: tuple[int, ...] = (1, 2, 4)
    batch_size: int = 128
    lr: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        super().__post_init__()
        per_dataset = ("datasets", "n_params", "epochs", "n_train", "n_test")
        lengths = {k: len(getattr(self, k)) for k in per_dataset}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"{', '.join(per_dataset)} need one entry per dataset; got {lengths}")


Config.register(full=Config(),
                smoke=Config(datasets=("digits",), n_params=(3400,), epochs=(2,), n_train=(1000,),
                             n_test=(300,), seeds=(0,)))


def _train_one(cfg: Config, data, n_params: int, epochs: int, depth: int) -> tuple[dict, str]:
    # one seed after another: on a CPU, vmapped convolutions are slower than separate runs
    hists = []
    for seed in cfg.seeds:
        torch.manual_seed(seed)
        model = cnn_with_params(n_params, depth, data.input_shape, data.num_classes)
        hists.append(train(model, data.x_train, data.y_train, data.x_test, data.y_test,
                           epochs=epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=seed,
                           desc=f"depth {depth}, seed {seed}"))
    result = {"histories": [h.to_dict() for h in hists], "n_params": count_params(model),
              "widths": widths_of(model)}
    return result, data.source


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str]:
    data = load_subset(spec["dataset"], spec["n_train"], spec["n_test"])
    return _train_one(cfg, data, spec["n_params"], spec["epochs"], spec["depth"])


def run(cfg: Config, executor: Executor | None = None) -> dict[str, dict]:
    """Train (or load) every dataset x depth.

    Args:
        cfg: the experiment's settings.
        executor: runs the missing (dataset, depth) runs; None: here, one after another.

    Returns:
        ``results[dataset]`` = ``{"source": str, "runs": {depth: {"histories", "n_params",
        "widths"}}}``.
    """
    per_dataset = zip(cfg.datasets, cfg.n_params, cfg.epochs, cfg.n_train, cfg.n_test,
                      strict=True)
    specs = [{"dataset": name, "n_params": n_params, "epochs": epochs, "depth": depth,
              "n_train": n_train, "n_test": n_test, "batch_size": cfg.batch_size, "lr": cfg.lr}
             for name, n_params, epochs, n_train, n_test in per_dataset
             for depth in cfg.depths]
    runs = RunStore(cfg.name).sweep([(s, list(cfg.seeds)) for s in specs], partial(_unit, cfg),
                                    executor=executor)
    results: dict[str, dict] = {}
    for spec, stored in zip(specs, runs, strict=True):
        entry = results.setdefault(spec["dataset"], {"source": None, "runs": {}})
        entry["runs"][spec["depth"]], entry["source"] = stored.result, stored.data_source
    return results


def summary(results: dict) -> list[dict]:
    """Final-epoch train/test loss and accuracy per dataset and depth (mean over seeds)."""
    rows = []
    for name, res in results.items():
        for depth, r in res["runs"].items():
            last = {k: np.mean([h[k][-1] for h in r["histories"]])
                    for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
            rows.append({"dataset": name, "depth": depth, "channels": r["widths"],
                         "params": r["n_params"], "seeds": len(r["histories"]),
                         "epochs": r["histories"][0]["epoch"][-1],
                         **{k: float(v) for k, v in last.items()}})
    return rows


def make_figures(results: dict) -> list[plt.Figure]:
    """Per dataset: loss and accuracy per epoch, train solid and test dashed, per depth."""
    figs = []
    for name, res in results.items():
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
        for i, (depth, r) in enumerate(res["runs"].items()):
            hists = [History.from_dict(h) for h in r["histories"]]
            color = f"C{i}"
            label = f"{depth} conv layer{'s' * (depth > 1)} {r['widths']} ({r['n_params']} params)"
            for ax, key in ((ax_loss, "loss"), (ax_acc, "acc")):
                band(ax, hists[0].epoch, np.array([getattr(h, f"train_{key}") for h in hists]),
                     label=f"{label}, train", color=color)
                band(ax, hists[0].epoch, np.array([getattr(h, f"test_{key}") for h in hists]),
                     label="test", color=color, ls="--")
        seeds = len(next(iter(res["runs"].values()))["histories"])
        fig.suptitle(f"{dataset_label(res['source'], name)}: CNNs of equal parameter count, "
                     f"{seeds} seeds (mean, min-max band); train solid, test dashed")
        ax_loss.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="loss")
        ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
        ax_acc.legend(fontsize=7, ncol=1)
        save_figure(fig, f"train_actual_task_{name}")
        figs.append(fig)
    return figs
