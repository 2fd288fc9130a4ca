"""HW1-3 flatness part 1 (interpolation): two models trained alike except for the batch size
(and a second pair except for the learning rate); loss and accuracy along
θ(α) = (1 − α)·θ_a + α·θ_b for α from −1 to 2."""

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
from hw1.data import DATASETS, dataset_label, load_subset
from hw1.metrics import interpolate
from hw1.models import image_mlp
from hw1.plotting import save_figure
from hw1.store import Run, RunStore
from hw1.training import evaluate, train


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the interpolation experiment.

    Attributes:
        dataset, n_train, n_test: data (seeded subset).
        widths: hidden widths of the MLP.
        epochs, seed: the same for every model.
        batch_sizes: the batch-size pair (trained at ``lrs[0]``).
        lrs: the learning-rate pair (trained at ``batch_sizes[0]``).
        alphas: number of α values from ``alpha_range[0]`` to ``alpha_range[1]``.
    """

    name: ClassVar[str] = "interpolation"
    positive: ClassVar[tuple[str, ...]] = ("n_train", "n_test", "widths", "epochs",
                                           "batch_sizes", "lrs", "alphas")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"dataset": DATASETS}
    dataset: str = "mnist"
    n_train: int = 10_000
    n_test: int = 2_000
    widths: tuple[int, ...] = (64, 64)
    epochs: int = 10
    seed: int = 0
    batch_sizes: tuple[int, ...] = (64, 1024)
    lrs: tuple[float, ...] = (1e-3, 1e-2)
    alphas: int = 61
    alpha_range: tuple[float, ...] = (-1.0, 2.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.batch_sizes) != 2 or len(self.lrs) != 2:
            raise ValueError("batch_sizes and lrs must each be a pair (two values)")


Config.register(full=Config(), smoke=Config(dataset="digits", n_train=500, n_test=200,
                                            widths=(16,), epochs=2, alphas=7))


def _data(cfg: Config):
    return load_subset(cfg.dataset, cfg.n_train, cfg.n_test)


def _model(cfg: Config, data) -> nn.Module:
    torch.manual_seed(cfg.seed)
    return image_mlp(data.input_shape, cfg.widths, data.num_classes)


def _model_spec(cfg: Config, batch_size: int, lr: float) -> dict:
    return {"model": {"dataset": cfg.dataset, "n_train": cfg.n_train, "n_test": cfg.n_test,
                      "widths": cfg.widths, "epochs": cfg.epochs, "batch_size": batch_size,
                      "lr": lr}}


def _train_unit(cfg: Config, spec: dict, seed: int) -> tuple[dict, str, dict]:
    batch_size, lr = spec["model"]["batch_size"], spec["model"]["lr"]
    d = _data(cfg)
    model = _model(cfg, d)
    hist = train(model, d.x_train, d.y_train, d.x_test, d.y_test, epochs=cfg.epochs,
                 batch_size=batch_size, lr=lr, seed=cfg.seed, desc=f"batch {batch_size}, "
                 f"lr {lr}")
    flat = nn.utils.parameters_to_vector(model.parameters()).detach().numpy()
    return {"history": hist.to_dict()}, d.source, {"params": flat}


def _as_model(cfg: Config, stored: Run) -> nn.Module:
    model = _model(cfg, _data(cfg))
    nn.utils.vector_to_parameters(torch.as_tensor(stored.arrays["params"]), model.parameters())
    return model.eval()


def _curve(model_a: nn.Module, model_b: nn.Module, data, alphas: np.ndarray) -> dict:
    loss_fn = nn.functional.cross_entropy
    out = {k: [] for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
    for a in alphas:
        m = interpolate(model_a, model_b, float(a))
        for split, (x, y) in (("train", (data.x_train, data.y_train)),
                              ("test", (data.x_test, data.y_test))):
            loss, acc = evaluate(m, loss_fn, x, y)
            out[f"{split}_loss"].append(loss)
            out[f"{split}_acc"].append(acc)
    return out


def _pairs(cfg: Config) -> dict[str, list[tuple[int, float]]]:
    return {"batch_size": [(bs, cfg.lrs[0]) for bs in cfg.batch_sizes],
            "learning_rate": [(cfg.batch_sizes[0], lr) for lr in cfg.lrs]}


def _curve_unit(cfg: Config, spec: dict, seed: int) -> tuple[dict, str]:
    store = RunStore(cfg.name)
    a, b = (_as_model(cfg, _endpoint(store, cfg, *s)) for s in _pairs(cfg)[spec["pair"]])
    alphas = np.linspace(*cfg.alpha_range, cfg.alphas)
    return _curve(a, b, _data(cfg), alphas), _data(cfg).source


def _endpoint(store: RunStore, cfg: Config, batch_size: int, lr: float) -> Run:
    stored = store.load(_model_spec(cfg, batch_size, lr), cfg.seed)
    if stored is None:  # the first stage of run() stores every endpoint before any curve
        raise LookupError(f"endpoint (batch {batch_size}, lr {lr}) is not in {store.folder}; "
                          "run interpolation.run(cfg), which trains it first")
    return stored


def run(cfg: Config, executor: Executor | None = None) -> dict:
    """Train (or load) the models, then compute (or load) both interpolation curves.

    Args:
        cfg: the experiment's settings.
        executor: trains the endpoints, then computes the two curves (each stage's tasks at
            once); None: here, one after another.

    Returns:
        ``{"alphas", "dataset", "source", "pairs": {pair: {"labels", "curve", "histories"}}}``.
    """
    store = RunStore(cfg.name)
    alphas = np.linspace(*cfg.alpha_range, cfg.alphas)
    pairs = _pairs(cfg)
    settings = list(dict.fromkeys(s for pair in pairs.values() for s in pair))  # 3 models
    models = store.sweep([(_model_spec(cfg, *s), cfg.seed) for s in settings],
                         partial(_train_unit, cfg), executor=executor)
    history = {s: run.result["history"] for s, run in zip(settings, models, strict=True)}
    curves = store.sweep([({"curve": cfg.to_dict(), "pair": pair}, cfg.seed) for pair in pairs],
                         partial(_curve_unit, cfg), executor=executor)
    out = {"alphas": alphas.tolist(), "pairs": {}, "dataset": cfg.dataset}
    for (pair, pair_settings), stored in zip(pairs.items(), curves, strict=True):
        out["pairs"][pair] = {"labels": [f"batch {bs}, lr {lr:g}" for bs, lr in pair_settings],
                              "curve": stored.result,
                              "histories": [history[s] for s in pair_settings]}
        out["source"] = stored.data_source
    return out


def summary(results: dict) -> list[dict]:
    """Per pair: endpoints' final test accuracy and the worst loss between them."""
    alphas = np.asarray(results["alphas"])
    rows = []
    for pair, r in results["pairs"].items():
        c = r["curve"]
        inside = (alphas > 0) & (alphas < 1)
        rows.append({"pair": pair, "model_a": r["labels"][0], "model_b": r["labels"][1],
                     "test_acc_a": r["histories"][0]["test_acc"][-1],
                     "test_acc_b": r["histories"][1]["test_acc"][-1],
                     "train_loss_a": r["histories"][0]["train_loss"][-1],
                     "train_loss_b": r["histories"][1]["train_loss"][-1],
                     "max_train_loss_between": float(np.max(np.asarray(c["train_loss"])[inside])),
                     "min_test_acc_between": float(np.min(np.asarray(c["test_acc"])[inside]))})
    return rows


def make_figures(results: dict) -> list[plt.Figure]:
    """Per pair: log cross-entropy (left axis) and accuracy (right axis) along α; train solid,
    test dashed."""
    alphas = np.asarray(results["alphas"])
    label = dataset_label(results["source"], results["dataset"])
    figs = []
    for pair, r in results["pairs"].items():
        c = r["curve"]
        fig, ax = plt.subplots(figsize=(6.8, 4.0))
        ax2 = ax.twinx()
        ax.plot(alphas, c["train_loss"], "C0-", label="train loss")
        ax.plot(alphas, c["test_loss"], "C0--", label="test loss")
        ax2.plot(alphas, c["train_acc"], "C3-", label="train accuracy")
        ax2.plot(alphas, c["test_acc"], "C3--", label="test accuracy")
        ax.set(yscale="log", xlabel=f"α  (α=0: {r['labels'][0]};  α=1: {r['labels'][1]})")
        ax.set_ylabel("cross-entropy (log)", color="C0")
        ax2.set_ylabel("accuracy", color="C3")
        ax2.spines["right"].set_visible(True)
        ax2.grid(False)
        for a in (0, 1):
            ax.axvline(a, color="grey", lw=0.8, ls=":")
        lines = ax.get_lines()[:2] + ax2.get_lines()
        ax.legend(lines, [ln.get_label() for ln in lines], fontsize=7, loc="center left")
        ax.set_title(f"{label}: interpolating between models that differ in "
                     f"{pair.replace('_', ' ')}")
        save_figure(fig, f"interpolation_{pair}")
        figs.append(fig)
    return figs
