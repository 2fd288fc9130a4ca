"""The compute path of notebook 10: settings, training and measurement of every model."""

from __future__ import annotations

import math
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from hw1.config import ExperimentConfig
from hw1.data import DATASETS, load_dataset, load_subset, subset
from hw1.ensemble import train_ensemble
from hw1.metrics import hessian_trace, sensitivities, sharpness_details, top_hessian_eigenvalue
from hw1.models import count_params, image_mlp
from hw1.store import RunStore
from hw1.training import Criterion

REGIMES = ("equal_epochs", "criterion", "criterion_scaled_lr")
REGIME_LABELS = {"equal_epochs": "equal epochs", "criterion": "same train-loss criterion",
                 "criterion_scaled_lr": "criterion, square-root-scaled learning rate"}
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
        dataset, n_train, n_test: data (seeded subset; the test set is used only for the
            test loss and accuracy, never by a measure).
        widths: hidden widths of the MLP.
        batch_sizes: the sweep (log scale) of the two fixed-rate regimes.
        lr: Adam learning rate of the fixed-rate regimes, the same for every batch size.
        epochs: length of the equal-epoch regime.
        target_train_loss, max_steps, check_every: the criterion regimes train until the
            full-training-set loss is at most ``target_train_loss`` (checked after every epoch
            and every ``check_every`` optimizer steps), or ``max_steps`` optimizer steps.
        scaled_batch_sizes, lr_reference_batch: the scaled-rate arm trains these batch sizes
            to the same criterion at ``lr · sqrt(batch / lr_reference_batch)`` (square-root
            scaling for Adam, Malladi et al. 2022).
        seeds: runs per batch size and regime (initialization and batch order).
        n_metric: training images every measure is computed on (one fixed subset).
        epsilons: the two ε of the sharpness box, larger first (their ratio tests ε² scaling).
        sharpness_restarts: L-BFGS-B searches per sharpness value.
        lanczos_tol: the top eigenvalue's Lanczos iteration stops when the largest Ritz value
            changes by at most this relative amount (at most 64 steps).
        trace_samples: Rademacher probes of the Hutchinson trace.
    """

    name: ClassVar[str] = "sensitivity_sharpness"
    positive: ClassVar[tuple[str, ...]] = ("n_train", "n_test", "widths", "batch_sizes",
                                           "epochs", "lr", "target_train_loss", "max_steps",
                                           "check_every", "scaled_batch_sizes",
                                           "lr_reference_batch", "n_metric", "epsilons",
                                           "sharpness_restarts", "lanczos_tol",
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
    check_every: int = 50
    scaled_batch_sizes: tuple[int, ...] = (1024, 4096)
    lr_reference_batch: int = 64
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    n_metric: int = 1_000
    epsilons: tuple[float, ...] = (1e-3, 5e-4)
    sharpness_restarts: int = 1
    lanczos_tol: float = 1e-6
    trace_samples: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        self.criterion()  # an unreachable or malformed criterion fails here, before training
        if len(self.epsilons) != 2 or self.epsilons[0] <= self.epsilons[1]:
            raise ValueError(f"epsilons must be two values, larger first, got {self.epsilons}")
        if len(self.seeds) < 2:
            raise ValueError(f"need at least 2 seeds for intervals, got {self.seeds}")

    def criterion(self) -> Criterion:
        """The criterion regimes' stopping rule."""
        return Criterion(train_loss_at_most=self.target_train_loss, max_steps=self.max_steps,
                         check_every=self.check_every)

    def learning_rate(self, regime: str, batch_size: int) -> float:
        """The Adam rate of a regime at a batch size (square-root scaled in the scaled arm)."""
        if regime == "criterion_scaled_lr":
            return self.lr * math.sqrt(batch_size / self.lr_reference_batch)
        return self.lr

    def batches(self, regime: str) -> tuple[int, ...]:
        """The batch sizes a regime trains."""
        return self.scaled_batch_sizes if regime == "criterion_scaled_lr" else self.batch_sizes


Config.register(full=Config(), smoke=Config(dataset="digits", n_train=500, n_test=200,
                                            widths=(16,), batch_sizes=(16, 128, 512), epochs=2,
                                            target_train_loss=0.3, max_steps=300,
                                            check_every=10, scaled_batch_sizes=(128, 512),
                                            lr_reference_batch=16, seeds=(0, 1),
                                            n_metric=100, trace_samples=10))


def _measure(cfg: Config, model: nn.Module, data) -> dict:
    """Every measure of one model, from the same ``n_metric`` training images (inputs and
    training labels; no test data)."""
    gen = torch.Generator().manual_seed(1234)
    x_tr, y_tr = subset(data.x_train, data.y_train, cfg.n_metric, gen)
    ce = nn.functional.cross_entropy
    sens = sensitivities(model, x_tr, y_tr)
    out = {"sensitivity_jacobian": sens["jacobian"],
           "sensitivity_loss_gradient": sens["loss_gradient"]}
    for i, eps in enumerate(cfg.epsilons):
        s = sharpness_details(model, ce, x_tr, y_tr, epsilon=eps,
                              restarts=cfg.sharpness_restarts)
        suffix = "" if i == 0 else "_small_eps"
        out[f"sharpness{suffix}"], out[f"sharpness_raw{suffix}"] = s["normalized"], s["raw"]
    out["top_eigenvalue"] = top_hessian_eigenvalue(model, ce, x_tr, y_tr, tol=cfg.lanczos_tol)
    out["hessian_trace"] = hessian_trace(model, ce, x_tr, y_tr, samples=cfg.trace_samples,
                                         generator=torch.Generator().manual_seed(0))
    return out


def _correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Per image ``(N,)`` bool: whether the model classifies it correctly."""
    with torch.inference_mode():
        return (model.eval()(x).argmax(-1) == y).numpy()


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str, dict]:
    data = load_subset(cfg.dataset, cfg.n_train, cfg.n_test)
    full = load_dataset(cfg.dataset)  # the whole test split, for paired tests over images
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(image_mlp(data.input_shape, cfg.widths, data.num_classes))
    regime, bs = spec["regime"], spec["batch_size"]
    kw = ({"epochs": cfg.epochs} if regime == "equal_epochs" else {"until": cfg.criterion()})
    hists, ens = train_ensemble(models, data.x_train, data.y_train, data.x_test, data.y_test,
                                batch_size=bs, lr=spec["lr"], seeds=seeds,
                                desc=f"{REGIME_LABELS[regime]}, batch {bs}", **kw)
    rows, correct = [], []
    for seed, hist, model in zip(seeds, hists, ens.models(), strict=True):
        correct.append(_correct(model, full.x_test, full.y_test))
        rows.append({"seed": seed, "steps": hist.steps, "epochs": hist.epoch[-1],
                     "reached": hist.reached, "train_loss": hist.train_loss[-1],
                     "test_loss": hist.test_loss[-1], "train_acc": hist.train_acc[-1],
                     "test_acc": hist.test_acc[-1], "full_test_acc": float(correct[-1].mean()),
                     **_measure(cfg, model, data)})
    return ({"rows": rows, "n_params": count_params(models[0])}, data.source,
            {"full_test_correct": np.stack(correct)})


def run(cfg: Config, executor: Executor | None = None) -> dict:
    """Train and measure (or load) every regime x batch size (all seeds at once).

    Args:
        cfg: the experiment's settings.
        executor: runs the missing (regime, batch size) ensembles; None: here, one after
            another.

    Returns:
        ``{"batch_sizes", "scaled_batch_sizes", "dataset", "source", "criterion", "lr",
        "rows": [one dict per model with "regime", "batch", "lr", "seed", final metrics, gaps,
        measures and "full_test_correct": (N,) bools on the whole test split]}``.
    """
    base = {k: v for k, v in cfg.to_dict().items()
            if k not in ("batch_sizes", "seeds", "epochs", "target_train_loss", "max_steps",
                         "check_every", "scaled_batch_sizes", "lr_reference_batch", "lr")}
    specs = []
    for regime in REGIMES:
        stop = ({"epochs": cfg.epochs} if regime == "equal_epochs" else
                {"target_train_loss": cfg.target_train_loss, "max_steps": cfg.max_steps,
                 "check_every": cfg.check_every})
        specs += [{**base, **stop, "regime": regime, "batch_size": bs,
                   "lr": cfg.learning_rate(regime, bs)} for bs in cfg.batches(regime)]
    runs = RunStore(cfg.name).sweep([(s, list(cfg.seeds)) for s in specs], partial(_unit, cfg),
                                    executor=executor)
    rows = []
    for spec, stored in zip(specs, runs, strict=True):
        correct = stored.arrays["full_test_correct"]  # (seeds, N_test_full) bool
        for r, row_correct in zip(stored.result["rows"], correct, strict=True):
            rows.append({"regime": spec["regime"], "batch": spec["batch_size"],
                         "lr": spec["lr"], **r, "full_test_correct": row_correct,
                         "gap_loss": r["test_loss"] - r["train_loss"],
                         "gap_acc": r["train_acc"] - r["test_acc"]})
    return {"batch_sizes": list(cfg.batch_sizes),
            "scaled_batch_sizes": list(cfg.scaled_batch_sizes),
            "lr_reference_batch": cfg.lr_reference_batch, "dataset": cfg.dataset,
            "source": runs[-1].data_source, "criterion": cfg.criterion().describe(),
            "n_params": runs[-1].result["n_params"], "epsilons": list(cfg.epsilons),
            "max_steps": cfg.max_steps, "lr": cfg.lr,
            "rows": rows}
