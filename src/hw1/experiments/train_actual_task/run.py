"""The compute path of the actual-task experiment: its settings, the two classifier heads and
the training of every (dataset, head, depth) over seeds, the test set read at chosen epochs."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import torch

from hw1.config import ExperimentConfig
from hw1.data import DATASETS, load_subset
from hw1.models import cnn_with_params, count_params, widths_of
from hw1.store import RunStore
from hw1.training import History, train

#: spatial size the last feature map is average-pooled to before the linear classifier
HEADS = {"gap": 1, "flatten": 4}


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the actual-task experiment.

    Attributes:
        datasets: dataset names (see :func:`hw1.data.load_dataset`).
        n_params: parameter count per dataset (same order as ``datasets``).
        epochs: epochs per dataset (same order as ``datasets``).
        n_train, n_test: training/test subset sizes per dataset (a seeded random subset, the
            same for every model; the CPU budget does not allow the full sets for 18 runs).
        depths: numbers of conv layers to compare with the flatten head (the map average-pooled
            to 4x4, flattened, one linear layer).
        gap_depths: numbers of conv layers to compare with the GAP head (global average
            pooling, one linear layer). Depth 1 is left out of the full profile: one conv
            layer of ~300 channels at full resolution costs ~61 s per epoch on this 2-core CPU
            (measured), 20x the deeper models.
        batch_size, lr, schedule: Adam settings (``"cosine"``: the rate decays to 0 over the
            run, so the last epochs take small steps and the curves flatten).
        test_epochs: epochs after which the test set is evaluated (besides epoch 0 and the
            last one); the curves need no more points than these.
        eval_train_size: training loss and accuracy are recorded every epoch on this many
            training images (a fixed subset), not on all of them.
        seeds: one run per seed.
    """

    name: ClassVar[str] = "train_actual_task"
    positive: ClassVar[tuple[str, ...]] = ("n_params", "epochs", "n_train", "n_test", "depths",
                                           "gap_depths", "batch_size", "lr", "test_epochs",
                                           "eval_train_size")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"datasets": DATASETS,
                                                     "schedule": ("constant", "cosine")}
    datasets: tuple[str, ...] = ("mnist", "cifar10")
    n_params: tuple[int, ...] = (6_000, 10_000)
    epochs: tuple[int, ...] = (12, 12)
    n_train: tuple[int, ...] = (10_000, 10_000)
    n_test: tuple[int, ...] = (10_000, 10_000)
    depths: tuple[int, ...] = (1, 2, 4)
    gap_depths: tuple[int, ...] = (2, 4)
    batch_size: int = 128
    lr: float = 1e-3
    schedule: str = "cosine"
    test_epochs: tuple[int, ...] = (1, 2, 3, 6, 9)
    eval_train_size: int = 2000
    seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        super().__post_init__()
        per_dataset = ("datasets", "n_params", "epochs", "n_train", "n_test")
        lengths = {k: len(getattr(self, k)) for k in per_dataset}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"{', '.join(per_dataset)} need one entry per dataset; got {lengths}")


Config.register(full=Config(),
                smoke=Config(datasets=("digits",), n_params=(3400,), epochs=(2,), n_train=(1000,),
                             n_test=(300,), gap_depths=(1, 2), test_epochs=(1,),
                             eval_train_size=500, seeds=(0, 1)))


@torch.inference_mode()
def _test_logits(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 128
                 ) -> torch.Tensor:
    """``model``'s logits ``(N, classes)`` on ``x`` ``(N, ...)``, in eval mode, in batches of
    ``batch_size`` (on a 2-core CPU batches of 128 evaluate a small CNN faster than larger
    ones); the model's mode is restored."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def _test_recorder(x_test: torch.Tensor, y_test: torch.Tensor, epochs: set[int], last: int,
                   predictions: list[torch.Tensor]):
    """An ``on_epoch_end`` callback for :func:`hw1.training.train` (called with no test set,
    so the history holds NaN for the test metrics): after each epoch in ``epochs`` and the
    ``last`` one it evaluates the test set and writes the test loss and accuracy into the
    history; after the last one it also appends the per-image predicted classes ``(N,)``
    int8 to ``predictions``."""
    def record(epoch: int, model: torch.nn.Module, hist: History) -> None:
        if epoch not in epochs and epoch != last:
            return
        logits = _test_logits(model, x_test)
        predicted = logits.argmax(1)
        hist.test_loss[-1] = float(torch.nn.functional.cross_entropy(logits, y_test))
        hist.test_acc[-1] = float((predicted == y_test).float().mean())
        if epoch == last:
            predictions.append(predicted.to(torch.int8))
    return record


def _train_one(cfg: Config, data, n_params: int, epochs: int, head: str, depth: int
               ) -> tuple[dict, str]:
    # one seed after another: on a CPU, vmapped convolutions are slower than separate runs.
    # Channels-last tensors (same values, another memory layout) make this CPU's convolutions
    # faster.
    x_train = data.x_train.contiguous(memory_format=torch.channels_last)
    x_test = data.x_test.contiguous(memory_format=torch.channels_last)
    hists, predictions = [], []
    for seed in cfg.seeds:
        torch.manual_seed(seed)
        model = cnn_with_params(n_params, depth, data.input_shape, data.num_classes,
                                pool_to=HEADS[head]).to(memory_format=torch.channels_last)
        hists.append(train(model, x_train, data.y_train, epochs=epochs,
                           batch_size=cfg.batch_size, lr=cfg.lr, seed=seed,
                           schedule=cfg.schedule, eval_train_size=cfg.eval_train_size,
                           on_epoch_end=_test_recorder(x_test, data.y_test,
                                                       {0, *cfg.test_epochs}, epochs,
                                                       predictions),
                           desc=f"{head} head, depth {depth}, seed {seed}"))
    in_head = count_params(model[-1])
    result = {"histories": [h.to_dict() for h in hists], "n_params": count_params(model),
              "widths": widths_of(model), "head_params": in_head,
              "conv_params": count_params(model) - in_head,
              "test_predictions": torch.stack(predictions),
              "test_labels": data.y_test.to(torch.int8)}
    return result, data.source


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str]:
    data = load_subset(spec["dataset"], spec["n_train"], spec["n_test"])
    return _train_one(cfg, data, spec["n_params"], spec["epochs"], spec["head"], spec["depth"])


def run(cfg: Config, executor: Executor | None = None) -> dict[str, dict]:
    """Train (or load) every dataset x head x depth.

    Args:
        cfg: the experiment's settings.
        executor: runs the missing (dataset, head, depth) runs; None: here, one after another.

    Returns:
        ``results[dataset]`` = ``{"source": str, "n_test": int, "heads": {head: {depth:
        {"histories", "n_params", "widths", "conv_params", "head_params",
        "test_predictions" (n_seeds, n_test) int8, "test_labels" (n_test,) int8}}}}``; the
        histories' test metrics are NaN at epochs not in ``cfg.test_epochs`` (nor 0, nor the
        last).
    """
    per_dataset = zip(cfg.datasets, cfg.n_params, cfg.epochs, cfg.n_train, cfg.n_test,
                      strict=True)
    plan = [("flatten", d) for d in cfg.depths] + [("gap", d) for d in cfg.gap_depths]
    specs = [{"dataset": name, "n_params": n_params, "epochs": epochs, "depth": depth,
              "n_train": n_train, "n_test": n_test, "batch_size": cfg.batch_size, "lr": cfg.lr,
              "schedule": cfg.schedule, "head": head, "test_epochs": list(cfg.test_epochs),
              "eval_train_size": cfg.eval_train_size}
             for name, n_params, epochs, n_train, n_test in per_dataset
             for head, depth in plan]
    runs = RunStore(cfg.name).sweep([(s, list(cfg.seeds)) for s in specs], partial(_unit, cfg),
                                    executor=executor)
    results: dict[str, dict] = {}
    for spec, stored in zip(specs, runs, strict=True):
        entry = results.setdefault(spec["dataset"], {"source": stored.data_source,
                                                     "n_test": spec["n_test"], "heads": {}})
        entry["heads"].setdefault(spec["head"], {})[spec["depth"]] = stored.result
    return results
