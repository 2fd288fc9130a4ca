"""The compute path of the double-descent sweep: its settings, the training of one width (all
its models as one stacked ensemble) and :func:`run`.

Four arms share this code. The **main** arm: n training images, a fraction of whose labels
are replaced once by random classes (one draw, :data:`NOISE_SEED`), at every width. The
**clean** control: the same images, seeds and batch orders with the true labels, at fewer
widths. The **small-n** arm: the noisy main arm on a nested subset of fewer images (its own
n·K). The **confirmation** arm: widths fixed in :class:`Config` before these runs
(``confirm_widths``), fresh seeds and a second noise draw (:data:`SECOND_NOISE_SEED`), so the
rise of the test error between them is tested on data that did not choose them. At one
(n, width) every model of every arm trains in one stacked ensemble: each model has its own
seed (initialization and batch order) and its own row of labels; models do not interact.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import numpy as np
import torch

from hw1.config import ExperimentConfig
from hw1.data import DATASETS, load_subset
from hw1.ensemble import train_ensemble
from hw1.experiments.random_labels.run import corrupt_labels
from hw1.models import count_params, image_mlp
from hw1.store import RunStore

NOISE_SEED = 12_345
"""Seeds the noisy label set of the main, clean-partner and small-n arms."""

SECOND_NOISE_SEED = 54_321
"""Seeds the second, independent noisy label set of the confirmation arm."""

ARMS = ("main", "clean", "small_n", "confirm")
"""The arms of :func:`run`'s result, in the order the notebook shows them."""


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the double-descent sweep.

    Attributes:
        dataset, n_train: a seeded training subset (the whole test split is used).
        label_noise: fraction of training labels replaced by uniformly random classes (one
            fixed draw for every model of an arm), in [0, 1).
        widths: hidden widths of the one-hidden-layer MLP ``in-w-classes`` (main arm).
        epochs, batch_size, lr: Adam at a constant rate, the same budget for every model.
        record_every: epochs between recorded train/test evaluations.
        seeds: initialization and batch order (main, clean and small-n arms).
        clean_widths: widths of the clean-label control (0% noise; same seeds), a subset of
            ``widths``.
        small_n: the second training-set size (a nested subset of the first), with
        small_n_widths: its widths.
        confirm_widths: widths fixed before the confirmation runs (a subset of ``widths``);
            the first two are the pre-registered primary comparison (peak minus classical
            optimum of the earlier sweep), the rest secondary.
        confirm_seeds: fresh seeds of the confirmation arm (disjoint from ``seeds``).
    """

    name: ClassVar[str] = "double_descent"
    positive: ClassVar[tuple[str, ...]] = ("n_train", "widths", "epochs", "batch_size", "lr",
                                           "record_every", "small_n", "small_n_widths",
                                           "clean_widths", "confirm_widths")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"dataset": DATASETS}
    dataset: str = "mnist"
    n_train: int = 4_000
    label_noise: float = 0.2
    widths: tuple[int, ...] = (2, 4, 6, 8, 10, 12, 16, 20, 24, 30, 35, 40, 45, 50, 100, 200,
                               400)
    epochs: int = 300
    batch_size: int = 128
    lr: float = 1e-3
    record_every: int = 25
    seeds: tuple[int, ...] = (0, 1, 2)
    clean_widths: tuple[int, ...] = (6, 12, 20, 30, 50, 100)
    small_n: int = 2_000
    small_n_widths: tuple[int, ...] = (4, 6, 8, 10, 12, 16, 20, 25, 30, 40, 50, 100)
    confirm_widths: tuple[int, ...] = (20, 6, 100)
    confirm_seeds: tuple[int, ...] = (10, 11, 12, 13, 14)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.label_noise < 1:
            raise ValueError(f"label_noise must lie in [0, 1), got {self.label_noise}")
        for name in ("seeds", "confirm_seeds"):
            if len(getattr(self, name)) < 2:
                raise ValueError(f"need at least 2 {name} for intervals, "
                                 f"got {getattr(self, name)}")
        for name in ("widths", "clean_widths", "small_n_widths"):
            w = list(getattr(self, name))
            if w != sorted(set(w)):
                raise ValueError(f"{name} must be increasing without repeats, got {tuple(w)}")
        for name in ("clean_widths", "confirm_widths"):
            if not set(getattr(self, name)) <= set(self.widths):
                raise ValueError(f"{name} must be among widths {self.widths}, "
                                 f"got {getattr(self, name)}")
        if len(self.confirm_widths) < 2 or len(set(self.confirm_widths)) != len(
                self.confirm_widths):
            raise ValueError("confirm_widths needs at least 2 distinct widths, got "
                             f"{self.confirm_widths}")
        if set(self.seeds) & set(self.confirm_seeds):
            raise ValueError(f"confirm_seeds must be fresh: {self.confirm_seeds} shares seeds "
                             f"with {self.seeds}")
        if self.small_n >= self.n_train:
            raise ValueError(f"small_n must be below n_train = {self.n_train}, "
                             f"got {self.small_n}")


Config.register(full=Config(), smoke=Config(dataset="digits", n_train=300,
                                            widths=(2, 4, 16, 64), epochs=20, record_every=5,
                                            seeds=(0, 1), clean_widths=(4, 16),
                                            small_n=150, small_n_widths=(2, 8, 32),
                                            confirm_widths=(16, 4), confirm_seeds=(10, 11)))


def _labels(y: torch.Tensor, num_classes: int, members: list[dict]) -> torch.Tensor:
    """One row of training labels per model, ``(R, N)``: the true labels ``y`` ``(N,)``
    where a member's ``label_noise`` is 0, else ``y`` corrupted with its ``noise_seed``."""
    return torch.stack([corrupt_labels(y, m["label_noise"], num_classes,
                                       torch.Generator().manual_seed(m["noise_seed"]))
                        if m["label_noise"] > 0 else y.clone() for m in members])


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str, dict]:
    """Train every model of one (n, width) as one stacked ensemble.

    Returns:
        The stored result (per model: arm, seed, noise draw, final metrics and the recorded
        history, which holds train/test accuracy and loss and the fraction of the changed
        and of the unchanged labels fitted at each record), the data source, and the array
        ``test_correct`` ``(R, N_test)`` (uint8): which test images each model classifies
        correctly at the end.
    """
    members = spec["members"]
    data = load_subset(spec["dataset"], spec["n_train"], 10 ** 9)
    labels = _labels(data.y_train, data.num_classes, members)  # (R, N)
    changed = labels != data.y_train  # (R, N)
    width = spec["width"]
    models = []
    for s in seeds:
        torch.manual_seed(s)
        models.append(image_mlp(data.input_shape, (width,), data.num_classes))
    fitted: dict[str, list[list[float]]] = {"changed": [], "unchanged": []}

    def fit_on_train(epoch, ens, hists) -> None:
        with torch.inference_mode():
            pred = ens.forward_shared(data.x_train.to(ens.flat.device)).argmax(-1).cpu()
        hit = pred == labels  # (R, N)
        for name, mask in (("changed", changed), ("unchanged", ~changed)):
            count = mask.sum(1)
            frac = torch.where(count > 0, (hit & mask).sum(1) / count.clamp(min=1),
                               torch.full_like(count, float("nan"), dtype=torch.float))
            fitted[name].append(frac.tolist())

    hists, ens = train_ensemble(models, data.x_train, labels, data.x_test, data.y_test,
                                epochs=spec["epochs"], batch_size=spec["batch_size"],
                                lr=spec["lr"], seeds=seeds, record_every=spec["record_every"],
                                on_epoch_end=fit_on_train, desc=f"width {width}")
    with torch.inference_mode():
        correct = torch.cat([ens.forward_shared(xb.to(ens.flat.device)).argmax(-1).cpu()
                             == yb for xb, yb in zip(data.x_test.split(2048),
                                                     data.y_test.split(2048), strict=True)],
                            dim=1)  # (R, N_test)
    rows = []
    for r, (m, h) in enumerate(zip(members, hists, strict=True)):
        rows.append({**m, "labels_changed": changed[r].float().mean().item(),
                     "train_loss": h.train_loss[-1], "train_acc": h.train_acc[-1],
                     "test_loss": h.test_loss[-1], "test_acc": h.test_acc[-1],
                     "noisy_labels_fitted": fitted["changed"][-1][r],
                     "history": {"epoch": h.epoch, "train_acc": h.train_acc,
                                 "test_acc": h.test_acc, "train_loss": h.train_loss,
                                 "test_loss": h.test_loss,
                                 "changed_fitted": [f[r] for f in fitted["changed"]],
                                 "unchanged_fitted": [f[r] for f in fitted["unchanged"]]}})
    result = {"width": width, "n_params": count_params(models[0]),
              "n_train": len(data.y_train), "n_test": len(data.y_test),
              "num_classes": data.num_classes, "rows": rows}
    return result, data.source, {"test_correct": correct.numpy().astype(np.uint8)}


def _members(cfg: Config, n: int, width: int) -> list[dict]:
    """The models trained at (n, width): one dict per model (arm, seed, noise draw)."""
    def member(arm, seed, noise, noise_seed):
        return {"arm": arm, "seed": seed, "label_noise": noise, "noise_seed": noise_seed}

    if n == cfg.small_n:
        return [member("small_n", s, cfg.label_noise, NOISE_SEED) for s in cfg.seeds]
    out = [member("main", s, cfg.label_noise, NOISE_SEED) for s in cfg.seeds]
    if width in cfg.clean_widths:
        out += [member("clean", s, 0.0, NOISE_SEED) for s in cfg.seeds]
    if width in cfg.confirm_widths:
        out += [member("confirm", s, cfg.label_noise, SECOND_NOISE_SEED)
                for s in cfg.confirm_seeds]
    return out


def _arm(runs: list, arm: str, cfg: Config) -> dict:
    """One arm's results in the layout the analysis reads: per width, that arm's rows and
    their ``test_correct`` ``(S, N_test)`` bool array."""
    widths = []
    for run in runs:
        res = run.result
        keep = [i for i, row in enumerate(res["rows"]) if row["arm"] == arm]
        if not keep:
            continue
        widths.append({**{k: v for k, v in res.items() if k != "rows"},
                       "rows": [res["rows"][i] for i in keep],
                       "test_correct": run.arrays["test_correct"][keep].astype(bool)})
    first = widths[0]
    rows = first["rows"]
    return {"arm": arm, "dataset": cfg.dataset, "source": runs[0].data_source,
            "n_train": first["n_train"], "n_test": first["n_test"],
            "num_classes": first["num_classes"],
            "threshold": first["n_train"] * first["num_classes"],
            "label_noise": rows[0]["label_noise"],
            "labels_changed": rows[0]["labels_changed"], "epochs": cfg.epochs,
            "seeds": [r["seed"] for r in rows], "widths": widths}


def run(cfg: Config, executor: Executor | None = None) -> dict:
    """Train (or load) every (n, width), all its models at once.

    Args:
        cfg: the experiment's settings.
        executor: runs the missing units; None: here, one after another.

    Returns:
        The main arm's results: ``{"dataset", "source", "n_train", "n_test", "num_classes",
        "threshold" (n·K), "label_noise", "labels_changed", "epochs", "seeds", "widths": [one
        dict per width with "n_params", per-seed "rows" and "test_correct" (S, N_test)]}``,
        with the other arms (``"clean"``, ``"small_n"``, ``"confirm"``) under their names in
        the same layout, and ``"confirm_widths"`` as configured.
    """
    base = {"dataset": cfg.dataset, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
            "lr": cfg.lr, "record_every": cfg.record_every}
    units = [(cfg.n_train, w) for w in cfg.widths] + [(cfg.small_n, w)
                                                      for w in cfg.small_n_widths]
    items = []
    for n, w in units:
        members = _members(cfg, n, w)
        items.append(({**base, "n_train": n, "width": w, "members": members},
                      [m["seed"] for m in members]))
    runs = RunStore(cfg.name).sweep(items, partial(_unit, cfg), executor=executor)
    big, small = runs[:len(cfg.widths)], runs[len(cfg.widths):]
    out = _arm(big, "main", cfg)
    out["clean"] = _arm(big, "clean", cfg)
    out["small_n"] = _arm(small, "small_n", cfg)
    out["confirm"] = _arm(big, "confirm", cfg)
    out["confirm_widths"] = list(cfg.confirm_widths)
    return out
