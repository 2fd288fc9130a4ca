"""The compute path of the label-corruption sweep: its settings, the corrupted labels and
the training of each level (all seeds as one stacked ensemble)."""

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
from hw1.training import Criterion, loss_function


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the label-corruption sweep.

    Attributes:
        dataset, n_train: data (a seeded training subset; the whole test split is used).
        widths: hidden widths of the MLP that memorizes.
        corruption: fractions of the training labels replaced by random classes (0 is the
            true-label control, 1 is fully random labels); each in [0, 1].
        target_train_acc, max_steps: each model trains until its accuracy on its own
            (corrupted) training labels is at least ``target_train_acc``, checked after every
            epoch, or ``max_steps`` optimizer steps.
        batch_size, lr: Adam settings.
        seeds: initialization, batch order and the corrupted labels, per model.
    """

    name: ClassVar[str] = "random_labels"
    positive: ClassVar[tuple[str, ...]] = ("n_train", "widths", "target_train_acc",
                                           "max_steps", "batch_size", "lr")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"dataset": DATASETS}
    dataset: str = "mnist"
    n_train: int = 10_000
    widths: tuple[int, ...] = (512, 512)
    corruption: tuple[float, ...] = (0.0, 0.2, 0.5, 0.8, 1.0)
    target_train_acc: float = 0.99
    max_steps: int = 15_000
    batch_size: int = 100
    lr: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.corruption or any(not 0 <= c <= 1 for c in self.corruption):
            raise ValueError(f"corruption fractions must lie in [0, 1], got {self.corruption}")
        if len(self.seeds) < 2:
            raise ValueError(f"need at least 2 seeds for intervals, got {self.seeds}")
        self.criterion()  # an accuracy target above 1 (e.g. 99 for 99%) fails here

    def criterion(self) -> Criterion:
        """Every model's stopping rule."""
        return Criterion(train_acc_at_least=self.target_train_acc, max_steps=self.max_steps)


Config.register(full=Config(), smoke=Config(dataset="digits", n_train=300, widths=(64,),
                                            corruption=(0.0, 0.5, 1.0), target_train_acc=0.9,
                                            max_steps=150, seeds=(0, 1)))


def corrupt_labels(y: torch.Tensor, fraction: float, num_classes: int,
                   generator: torch.Generator) -> torch.Tensor:
    """A copy of ``y`` ``(N,)`` in which ``round(fraction · N)`` labels, at positions chosen by
    ``generator``, are replaced by classes drawn uniformly from all ``num_classes`` (so about
    1/K of them keep their true class by chance, as in Zhang et al. 2017)."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    out = y.clone()
    chosen = torch.randperm(len(y), generator=generator)[:round(fraction * len(y))]
    out[chosen] = torch.randint(0, num_classes, (len(chosen),), generator=generator)
    return out


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str]:
    data = load_subset(cfg.dataset, cfg.n_train, 10 ** 9)  # the whole test set
    fraction = spec["corruption"]
    labels = torch.stack([corrupt_labels(data.y_train, fraction, data.num_classes,
                                         torch.Generator().manual_seed(10_000 + s))
                          for s in seeds])  # (R, N): each model its own corrupted labels
    models = []
    for s in seeds:
        torch.manual_seed(s)
        models.append(image_mlp(data.input_shape, cfg.widths, data.num_classes))
    changed = labels != data.y_train  # (R, N): the labels the corruption altered
    n_changed = changed.sum(1).clamp(min=1)
    split: dict[str, list] = {"acc_changed": [], "acc_unchanged": []}

    def by_subset(epoch: int, correct: torch.Tensor) -> None:
        # correct (R, N): model r right on its own label; its accuracy on the changed labels
        # (memorized noise) and on the unchanged ones (the true labels), every epoch
        split["acc_changed"].append(((correct & changed).sum(1) / n_changed).tolist())
        split["acc_unchanged"].append(((correct & ~changed).sum(1)
                                       / (~changed).sum(1).clamp(min=1)).tolist())

    hists, ens = train_ensemble(models, data.x_train, labels, batch_size=cfg.batch_size,
                                lr=cfg.lr, seeds=seeds, until=cfg.criterion(),
                                desc=f"{fraction:.0%} of labels random",
                                on_train_correct=by_subset)
    loss_fn = loss_function("cross_entropy")
    test_correct = torch.zeros(len(models), len(data.y_test), dtype=torch.bool,
                               device=ens.flat.device)  # (R, n_test)
    test_loss, test_acc = evaluate_ensemble(ens, loss_fn, data.x_test, data.y_test,
                                            correct_out=test_correct)
    true_loss, true_acc = evaluate_ensemble(ens, loss_fn, data.x_train, data.y_train)
    rows = []
    for r, (s, h) in enumerate(zip(seeds, hists, strict=True)):
        # record k is epoch k; a frozen model's history ends at its fit, so cut there
        subsets = {k: [v[r] for v in split[k][:len(h.epoch)]] for k in split}
        rows.append({"seed": s, "epochs": h.epoch[-1], "steps": h.steps, "reached": h.reached,
                     "train_acc": h.train_acc[-1], "train_loss": h.train_loss[-1],
                     "train_acc_true_labels": true_acc[r].item(),
                     "test_loss": test_loss[r].item(), "test_acc": test_acc[r].item(),
                     "labels_changed": changed[r].float().mean().item(),
                     "history": {**{k: getattr(h, k) for k in ("epoch", "train_loss",
                                                               "train_acc")}, **subsets}})
    return ({"rows": rows, "n_params": count_params(models[0]), "n_test": len(data.y_test)},
            data.source, {"test_correct": test_correct.cpu().numpy()})


def run(cfg: Config, executor: Executor | None = None) -> dict:
    """Train (or load) every corruption level, all seeds at once.

    Args:
        cfg: the experiment's settings.
        executor: runs the missing levels; None: here, one after another.

    Returns:
        ``{"dataset", "source", "criterion", "n_params", "n_test", "levels": {fraction:
        [one dict per seed]}, "test_correct": {fraction: (seeds, n_test) bool, whether each
        seed's model classifies each test image correctly}}``.
    """
    base = {k: v for k, v in cfg.to_dict().items() if k not in ("corruption", "seeds")}
    items = [({**base, "corruption": c}, list(cfg.seeds)) for c in cfg.corruption]
    runs = RunStore(cfg.name).sweep(items, partial(_unit, cfg), executor=executor)
    return {"dataset": cfg.dataset, "source": runs[0].data_source,
            "criterion": cfg.criterion().describe(), "n_params": runs[0].result["n_params"],
            "target_train_acc": cfg.target_train_acc,
            "n_test": runs[0].result["n_test"],
            "levels": {c: run.result["rows"] for c, run in zip(cfg.corruption, runs,
                                                               strict=True)},
            "test_correct": {c: np.asarray(run.arrays["test_correct"], dtype=bool)
                             for c, run in zip(cfg.corruption, runs, strict=True)}}
