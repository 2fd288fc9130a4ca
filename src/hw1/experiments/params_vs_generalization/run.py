"""The compute path of the parameter-count sweep: its settings and the training of each
(dataset, width, budget), all seeds as one stacked ensemble."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import numpy as np
import torch

from hw1.config import ExperimentConfig
from hw1.data import DATASETS, load_subset
from hw1.ensemble import evaluate_ensemble, train_ensemble
from hw1.models import count_params, image_mlp
from hw1.store import RunStore
from hw1.training import loss_function

METRICS = ("train_loss", "train_acc", "test_loss", "test_acc")


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the parameter-count sweep.

    Attributes:
        datasets: dataset names; n_train, n_test: seeded subset sizes (a size at least the
            split's is the whole split: 10,000 is the whole MNIST and CIFAR-10 test set).
        widths: width ``w`` of the two hidden layers (structure ``in-w-w-classes``).
        epochs, batch_size, lr: Adam with a cosine schedule from ``lr`` to 0 over ``epochs``,
            the same for every width.
        flat_epochs: the flattening check compares the train loss at the end with the one
            this many epochs earlier; the train loss and accuracy are recorded every
            ``flat_epochs`` epochs (both budgets are multiples of it), the test set is
            evaluated once, at the end.
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
    n_test: int = 10_000
    widths: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128, 256, 512)
    epochs: int = 20
    batch_size: int = 100
    lr: float = 1e-3
    flat_epochs: int = 4
    fit_acc: float = 0.99
    check_epochs: int = 40
    check_from_width: int = 2
    seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.flat_epochs >= self.epochs:
            raise ValueError(f"flat_epochs ({self.flat_epochs}) must be below epochs "
                             f"({self.epochs})")
        if self.epochs % self.flat_epochs or self.check_epochs % self.flat_epochs:
            raise ValueError(f"epochs ({self.epochs}) and check_epochs ({self.check_epochs}) "
                             f"must be multiples of flat_epochs ({self.flat_epochs}), the "
                             f"recording interval")
        if self.fit_acc > 1:
            raise ValueError(f"fit_acc is a fraction in (0, 1], got {self.fit_acc}")
        if len(self.seeds) < 2:
            raise ValueError(f"need at least 2 seeds for intervals, got {self.seeds}")
        if self.check_epochs <= self.epochs:
            raise ValueError(f"check_epochs ({self.check_epochs}) must exceed epochs "
                             f"({self.epochs}): the check measures a longer budget")


Config.register(full=Config(), smoke=Config(datasets=("digits",), n_train=500, n_test=200,
                                            widths=(2, 8, 32), epochs=3, flat_epochs=1,
                                            fit_acc=0.9, check_epochs=6, check_from_width=2,
                                            seeds=(0, 1)))


def _train(cfg: Config, data, width: int, epochs: int) -> tuple[dict, str, dict]:
    models = []
    for seed in cfg.seeds:
        torch.manual_seed(seed)
        models.append(image_mlp(data.input_shape, (width, width), data.num_classes))
    hists, ens = train_ensemble(models, data.x_train, data.y_train, epochs=epochs,
                                batch_size=cfg.batch_size, lr=cfg.lr, seeds=cfg.seeds,
                                schedule="cosine", record_every=cfg.flat_epochs,
                                desc=f"width {width}, {epochs} epochs")
    x_test, y_test = data.x_test.to(ens.flat.device), data.y_test.to(ens.flat.device)
    correct = torch.zeros(len(models), len(y_test), dtype=torch.bool, device=ens.flat.device)
    test_loss, test_acc = evaluate_ensemble(ens, loss_function("cross_entropy"), x_test,
                                            y_test, correct_out=correct)
    final = {"train_loss": [h.train_loss[-1] for h in hists],
             "train_acc": [h.train_acc[-1] for h in hists],
             "test_loss": test_loss.tolist(), "test_acc": test_acc.tolist()}
    curves = {"curve_epochs": hists[0].epoch, "train_loss_curve": [h.train_loss for h in hists]}
    result = {"n_params": count_params(models[0]), "width": width, "epochs": epochs,
              "n_test": len(y_test), "num_classes": data.num_classes, **final, **curves}
    return result, data.source, {"test_correct": correct.cpu().numpy()}


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str, dict]:
    return _train(cfg, load_subset(spec["dataset"], cfg.n_train, cfg.n_test), spec["width"],
                  spec["epochs"])


def run(cfg: Config, executor: Executor | None = None) -> dict[str, dict]:
    """Train (or load) every dataset x width, at the main budget and (from
    ``check_from_width`` on) at the longer one.

    Args:
        cfg: the experiment's settings.
        executor: runs the missing (dataset, width, budget) ensembles; None: here, one after
            another.

    Returns:
        ``{dataset: {"rows", "check_rows", "source", "epochs", "check_epochs", "flat_epochs",
        "fit_acc", "n_train", "num_classes"}}``; ``rows`` (main budget) and ``check_rows``
        (longer budget) hold one dict per width: final metrics (one value per seed), the
        train loss every ``flat_epochs`` epochs, and ``test_correct`` ``(seeds, n_test)``
        bool, whether each seed's model classifies each test image correctly.
    """
    base = {k: v for k, v in cfg.to_dict().items()
            if k not in ("datasets", "widths", "fit_acc", "check_epochs", "check_from_width")}
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
                                                 "fit_acc": cfg.fit_acc,
                                                 "n_train": cfg.n_train})
        row = {**stored.result,
               "test_correct": np.asarray(stored.arrays["test_correct"], dtype=bool)}
        entry["rows" if spec["epochs"] == cfg.epochs else "check_rows"].append(row)
        entry["source"] = stored.data_source
        entry["num_classes"] = stored.result["num_classes"]
    return out
