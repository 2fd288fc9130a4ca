"""HW1-3 (number of parameters vs generalization): one MLP structure at widths spanning more
than two orders of magnitude of parameters, on MNIST and CIFAR-10, several seeds each (the
seeds of one width trained at once as a stacked ensemble)."""

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
from hw1.models import count_params, image_mlp
from hw1.plotting import save_figure
from hw1.store import RunStore


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the parameter-count sweep.

    Attributes:
        datasets: dataset names; n_train, n_test: seeded subset sizes.
        widths: width ``w`` of the two hidden layers (structure ``in-w-w-classes``).
        epochs, batch_size, lr: Adam settings, the same for every model.
        seeds: one run per seed and width.
    """

    name: ClassVar[str] = "params_vs_generalization"
    positive: ClassVar[tuple[str, ...]] = ("n_train", "n_test", "widths", "epochs",
                                           "batch_size", "lr")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"datasets": DATASETS}
    datasets: tuple[str, ...] = ("mnist", "cifar10")
    n_train: int = 10_000
    n_test: int = 2_000
    widths: tuple[int, ...] = (2, 4, 8, 12, 16, 24, 32, 64, 128, 256, 512)
    epochs: int = 10
    batch_size: int = 100
    lr: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2)


Config.register(full=Config(), smoke=Config(datasets=("digits",), n_train=500, n_test=200,
                                            widths=(2, 8, 32), epochs=2, seeds=(0, 1)))


def _train(cfg: Config, data, width: int) -> tuple[dict, str]:
    models = []
    for seed in cfg.seeds:
        torch.manual_seed(seed)
        models.append(image_mlp(data.input_shape, (width, width), data.num_classes))
    hists, _ = train_ensemble(models, data.x_train, data.y_train, data.x_test, data.y_test,
                              epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                              seeds=cfg.seeds, desc=f"width {width}")
    final = {k: [getattr(h, k)[-1] for h in hists]
             for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
    return {"n_params": count_params(models[0]), "width": width, **final}, data.source


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str]:
    return _train(cfg, load_subset(spec["dataset"], cfg.n_train, cfg.n_test), spec["width"])


def run(cfg: Config, executor: Executor | None = None) -> dict[str, dict]:
    """Train (or load) every dataset x width. ``results[name]["rows"]`` holds per-width final
    metrics (one value per seed).

    Args:
        cfg: the experiment's settings.
        executor: runs the missing (dataset, width) ensembles; None: here, one after another.
    """
    base = {k: v for k, v in cfg.to_dict().items() if k not in ("datasets", "widths")}
    specs = [{**base, "dataset": name, "width": width}
             for name in cfg.datasets for width in cfg.widths]
    runs = RunStore(cfg.name).sweep([(s, list(cfg.seeds)) for s in specs], partial(_unit, cfg),
                                    executor=executor)
    out: dict[str, dict] = {}
    for spec, stored in zip(specs, runs, strict=True):
        entry = out.setdefault(spec["dataset"], {"rows": [], "source": None})
        entry["rows"].append(stored.result)
        entry["source"] = stored.data_source
    return out


def summary(results: dict) -> list[dict]:
    """Per dataset and width: parameters, mean final metrics and the generalization gap."""
    out = []
    for name, res in results.items():
        for r in res["rows"]:
            m = {k: float(np.mean(r[k])) for k in ("train_loss", "test_loss", "train_acc",
                                                    "test_acc")}
            out.append({"dataset": name, "width": r["width"], "params": r["n_params"], **m,
                        "gap_loss": m["test_loss"] - m["train_loss"]})
    return out


def make_figures(results: dict) -> list[plt.Figure]:
    """Loss and accuracy vs number of parameters (log x), train and test, mean ± spread."""
    figs = []
    for name, res in results.items():
        params = np.array([r["n_params"] for r in res["rows"]])
        fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(10, 3.8))
        for ax, key, ylabel in ((ax_l, "loss", "cross-entropy"), (ax_a, "acc", "accuracy")):
            for split, style in (("train", "-o"), ("test", "--s")):
                vals = np.array([r[f"{split}_{key}"] for r in res["rows"]])  # (W, seeds)
                ax.errorbar(params, vals.mean(1), yerr=[vals.mean(1) - vals.min(1),
                                                        vals.max(1) - vals.mean(1)],
                            fmt=style, ms=3, capsize=2, label=split)
            ax.set(xscale="log", xlabel="number of parameters", ylabel=ylabel)
            ax.legend()
        seeds = len(res["rows"][0]["train_loss"])
        fig.suptitle(f"{dataset_label(res['source'], name)}: one MLP structure at "
                     f"{len(params)} widths ({seeds} seeds: mean, min-max)")
        save_figure(fig, f"params_vs_generalization_{name}")
        figs.append(fig)
    return figs
