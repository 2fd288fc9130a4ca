"""The compute path of the trajectory experiment: its settings and the training of the 8 runs
(one stacked ensemble) with their weight snapshots."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import numpy as np
import torch

from hw1.config import ExperimentConfig
from hw1.data import DATASETS, load_subset
from hw1.ensemble import Ensemble, train_ensemble
from hw1.models import count_params, mlp
from hw1.store import RunStore
from hw1.training import History


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the trajectory experiment.

    Attributes:
        dataset: dataset name; n_train, n_test: seeded subset sizes.
        widths: hidden widths of the MLP.
        epochs, snapshot_every: training length and how often weights are recorded.
        batch_size, lr: Adam settings.
        seeds: one run per seed (8 in the homework), trained together as a stacked ensemble.
    """

    name: ClassVar[str] = "optimization_trajectories"
    positive: ClassVar[tuple[str, ...]] = ("n_train", "n_test", "widths", "epochs",
                                           "snapshot_every", "batch_size", "lr")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"dataset": DATASETS}
    dataset: str = "mnist"
    n_train: int = 10_000
    n_test: int = 2_000
    widths: tuple[int, ...] = (32, 32)
    epochs: int = 30
    snapshot_every: int = 3
    batch_size: int = 100
    lr: float = 1e-3
    seeds: tuple[int, ...] = tuple(range(8))


Config.register(full=Config(), smoke=Config(dataset="digits", n_train=1000, n_test=300,
                                            widths=(16,), epochs=6, seeds=(0, 1, 2)))


def _train(cfg: Config) -> tuple[dict, str, dict]:
    data = load_subset(cfg.dataset, cfg.n_train, cfg.n_test)
    in_features = int(np.prod(data.input_shape))
    models = []
    for seed in cfg.seeds:
        torch.manual_seed(seed)
        models.append(mlp(in_features, list(cfg.widths), data.num_classes))
    snapshots, epochs, accs = [], [], []

    def snapshot(epoch: int, ens: Ensemble, hists: list[History]) -> None:
        if epoch % cfg.snapshot_every == 0:
            snapshots.append(ens.flat_params().cpu().numpy().astype(np.float32))
            epochs.append(epoch)
            accs.append([h.train_acc[-1] for h in hists])

    hists, _ = train_ensemble(models, data.x_train, data.y_train, data.x_test, data.y_test,
                              epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                              seeds=cfg.seeds, on_epoch_end=snapshot, desc="8 runs at once")
    first_layer = sum(p.numel() for p in list(models[0].parameters())[:2])
    result = {"histories": [h.to_dict() for h in hists], "snapshot_epochs": epochs,
              "snapshot_train_acc": np.array(accs).T, "n_params": count_params(models[0]),
              "first_layer_params": first_layer}
    return result, data.source, {"snapshots": np.stack(snapshots, axis=1)}  # (R, S, P)


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str, dict]:
    return _train(cfg)


def run(cfg: Config, executor: Executor | None = None) -> dict:
    """Train (or load) the runs. Returns the stored result plus ``snapshots`` ``(R, S, P)``.

    Args:
        cfg: the experiment's settings.
        executor: where to train the stacked ensemble (one task); None: here.
    """
    [stored] = RunStore(cfg.name).sweep([(cfg.to_dict(), list(cfg.seeds))], partial(_unit, cfg),
                                        executor=executor)
    return {**stored.result, "snapshots": stored.arrays["snapshots"],
            "source": stored.data_source}
