"""HW1-1 (train on an actual task): CNNs of different depth with equal parameter counts on
MNIST and CIFAR-10 (the JPEG copy offline), several seeds each.

The classifier head decides where the parameters go. With a flatten head (the map average-
pooled to 4x4, flattened, one linear layer) a shallow CNN spends most of its budget in the
head; with a global-average-pooling head (GAP: the map pooled to 1x1, one linear layer; Lin et
al. 2014) the head holds only ``(channels + 1) x classes`` parameters and nearly all of the
budget sits in the convolutions at every depth, so depth is no longer confounded with a large
linear classifier.
"""

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
from hw1.intervals import t_interval
from hw1.models import cnn_with_params, count_params, widths_of
from hw1.plotting import band, save_figure
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


def _runs(res: dict):
    """``(head, depth, run)`` for every trained model family of one dataset."""
    for head, runs in res["heads"].items():
        for depth, r in runs.items():
            yield head, depth, r


def _head(head: str) -> str:
    """A head's name as the notebook writes it (``"GAP"``, ``"flatten"``)."""
    return "GAP" if head == "gap" else head


def _label(results: dict, name: str) -> str:
    """The dataset's human label (``"CIFAR-10 (JPEG copy)"`` for the offline copy)."""
    return dataset_label(results[name]["source"], name)


def describe(results: dict, name: str) -> str:
    """One line on a dataset's runs: seeds per model, epochs, test images (whether the whole
    official test set) and the data source (paths relative to the repository).

    Args:
        results: as returned by :func:`run`.
        name: the dataset.
    """
    import re

    from hw1.report import repo_relative

    res = results[name]
    hists = next(_runs(res))[2]["histories"]
    source = repo_relative(res["source"])
    n_test = res.get("n_test") or 0
    # the data note says "random subset of N train / M test images" whenever either split is
    # subsampled; a test split no larger than requested is the whole official test set
    official = {"mnist": 10_000, "cifar10": 10_000}  # test-set sizes
    whole = n_test >= official.get(name, n_test + 1)
    if whole:
        source = re.sub(r"random subset of (\d+) train / \d+ test images \(seed (\d+)\)",
                        lambda m: f"random subset of {int(m[1]):,} training images (seed "
                                  f"{m[2]})", source)
    test = f"the full {n_test:,}-image test set" if whole else f"{n_test:,} test images"
    return (f"{_label(results, name)}: {len(hists)} seeds per model, {hists[0]['epoch'][-1]} "
            f"epochs, {test}; {source}")


def _map_size(name: str, head: str, depth: int) -> str:
    """The side of the last conv block's map (``"7×7"``), from the builder's pooling plan
    (:func:`hw1.models._pool_plan`) and the dataset's image side; blank for an unknown side."""
    from hw1.models import _pool_plan

    side = {"mnist": 28, "cifar10": 32, "digits": 8}.get(name)
    if side is None:
        return ""
    for pool in _pool_plan(side, depth, HEADS[head]):
        side = side // 2 if pool else side
    return f"{side}×{side}"


def summary(results: dict, name: str):
    """One dataset, per head and depth: the conv/head parameter split, the final train
    accuracy (mean over seeds), the final test accuracy as mean ± 95% t-interval over seeds,
    the test set's own binomial sampling error (half-width 1.96·sqrt(p(1-p)/n) of one model's
    accuracy) and the last 3 epochs' change in test accuracy (mean over seeds).

    Args:
        results: as returned by :func:`run`.
        name: the dataset.

    Returns:
        a display DataFrame (:func:`hw1.report.table`), one row per (head, depth).
    """
    from hw1.report import ci, table

    res = results[name]
    rows = []
    for head, depth, r in _runs(res):
        hists = r["histories"]
        test = np.array([h["test_acc"][-1] for h in hists])
        mean, _ = t_interval(test)
        n_test = res.get("n_test") or 0
        last = hists[0]["epoch"][-1]
        last3 = np.array([h["test_acc"][-1] - _test_at(h, last - 3) for h in hists])
        rows.append({"head": _head(head), "conv layers": depth, "channels": r["widths"],
                     "params": r["n_params"], "in conv": r.get("conv_params"),
                     "in head": r.get("head_params"),
                     "map size before head": _map_size(name, head, depth),
                     "train acc": float(np.mean([h["train_acc"][-1] for h in hists])),
                     "test acc (mean ± 95% CI)": ci(test),
                     "one model's sampling ±": float(1.96 * np.sqrt(mean * (1 - mean) / n_test))
                     if n_test else float("nan"),
                     "test acc change, last 3 epochs": float(np.mean(last3))})
    return table(rows)


def _correct(r: dict) -> np.ndarray:
    """``(n_seeds, n_test)`` bool: which test images each seed's final model classifies
    correctly."""
    predictions = np.asarray(r["test_predictions"])
    return predictions == np.asarray(r["test_labels"])[None, :]


def _difference_rows(results: dict, n_boot: int = 2000) -> list[dict]:
    """Per dataset and head, every deeper minus shallower depth: the raw numbers of
    :func:`depth_differences` (floats; p-values Holm-adjusted over all rows).

    Returns:
        one dict per comparison: ``dataset``, ``head``, ``deep``, ``shallow``,
        ``difference``, ``images`` (``(low, high)`` bootstrap interval), ``p_images`` (0: no
        resample on the other side of 0), ``seeds`` (``(low, high)`` Welch interval),
        ``p_seeds``, ``holm_images`` (with a zero ``p_images`` entered as ``1/n_boot``),
        ``holm_seeds`` and ``bounded`` (whether any ``p_images`` was 0: then every
        ``holm_images`` is an upper bound).
    """
    from scipy import stats

    from hw1.intervals import bootstrap_accuracy_difference, holm, welch_difference

    rows = []
    for name, res in results.items():
        for head, runs in res["heads"].items():
            correct = {d: _correct(r) for d, r in runs.items()}
            for deep in correct:
                for depth in correct:
                    if depth >= deep or len(correct[depth]) < 2:
                        continue
                    boot = bootstrap_accuracy_difference(correct[deep], correct[depth],
                                                         n_boot=n_boot)
                    acc_deep, acc = correct[deep].mean(1), correct[depth].mean(1)
                    welch = welch_difference(acc_deep, acc)
                    rows.append({"dataset": _label(results, name), "head": _head(head),
                                 "deep": deep, "shallow": depth,
                                 "difference": boot["difference"],
                                 "images": (boot["ci95_low"], boot["ci95_high"]),
                                 "p_images": boot["p"],
                                 "seeds": (welch["ci95_low"], welch["ci95_high"]),
                                 "p_seeds": float(stats.ttest_ind(acc_deep, acc,
                                                                  equal_var=False).pvalue)})
    if not rows:
        return rows
    # no resample on the other side of 0: p below 1/n_boot, bounded by it
    adjusted_images = holm([max(r["p_images"], 1 / n_boot) for r in rows])
    adjusted_seeds = holm([r["p_seeds"] for r in rows])
    bounded = any(r["p_images"] == 0 for r in rows)
    for row, a, b in zip(rows, adjusted_images, adjusted_seeds, strict=True):
        row.update({"holm_images": float(a), "holm_seeds": float(b), "bounded": bounded})
    return rows


def depth_differences(results: dict, n_boot: int = 2000):
    """Per dataset and head: every deeper minus shallower depth's final test accuracy (mean
    over seeds), judged twice: paired over the test images (the same images for both models;
    95% bootstrap interval and p over images, seeds averaged:
    :func:`hw1.intervals.bootstrap_accuracy_difference`) and over seeds (95% Welch interval
    and Welch's t-test of the per-seed accuracies); each p-value Holm-adjusted over the
    table's comparisons (:func:`hw1.intervals.holm`). A bootstrap p of 0 (no resample on the
    other side of 0) is shown as ``< 1/n_boot`` and enters Holm's method as ``1/n_boot``; then
    every adjusted value is an upper bound (shown with ``≤``).

    The rule for calling a difference shown: **both** Holm-adjusted p-values below 0.05
    (column ``both Holm p < 0.05``).

    Args:
        results: as returned by :func:`run`.
        n_boot: bootstrap replicates.

    Returns:
        a display DataFrame, one row per (dataset, head, pair of depths).
    """
    from hw1.report import diff, num, table

    rows = []
    for r in _difference_rows(results, n_boot):
        rows.append({"dataset": r["dataset"], "head": r["head"],
                     "deeper − shallower": f"{r['deep']} − {r['shallow']} conv layers",
                     "difference [95% CI over images]": diff(r["difference"], *r["images"]),
                     "p over images": r["p_images"] if r["p_images"] > 0
                     else f"< {num(1 / n_boot)}",
                     "95% CI over seeds (Welch, unadjusted)": f"[{num(r['seeds'][0])}, "
                                                  f"{num(r['seeds'][1])}]",
                     "p over seeds (Welch)": r["p_seeds"],
                     "Holm p, images": f"≤ {num(r['holm_images'])}" if r["bounded"]
                     else r["holm_images"],
                     "Holm p, seeds": r["holm_seeds"],
                     "both Holm p < 0.05": bool(r["holm_images"] < 0.05
                                                and r["holm_seeds"] < 0.05)})
    return table(rows)


def figure_differences(results: dict, n_boot: int = 2000) -> plt.Figure:
    """The tested differences of :func:`depth_differences`: one panel per dataset, one row
    per (head, pair of depths), the difference in final test accuracy with its 95% bootstrap
    interval over the test images (thick) and its 95% Welch interval over seeds (thin), filled
    where both Holm p are below 0.05; saved as ``train_actual_task_differences``.

    Args:
        results: as returned by :func:`run`.
        n_boot: bootstrap replicates (as in the table).

    Returns:
        the figure.
    """
    from matplotlib.lines import Line2D

    rows = _difference_rows(results, n_boot)
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    fig, axes = plt.subplots(1, len(datasets), figsize=(10.4, 0.55 * max(
        sum(r["dataset"] == d for r in rows) for d in datasets) + 2.4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        mine = [r for r in rows if r["dataset"] == dataset]
        for y, r in enumerate(mine):
            shown = r["holm_images"] < 0.05 and r["holm_seeds"] < 0.05
            color = "C1" if r["head"] == "GAP" else "C0"
            ax.plot(r["seeds"], [y, y], color=color, lw=1.2)
            ax.plot(r["images"], [y, y], color=color, lw=5, solid_capstyle="butt")
            ax.plot(r["difference"], y, "o", color=color, mec="black",
                    mfc=color if shown else "white", ms=7)
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(range(len(mine)), [f"{r['head']}: {r['deep']} − {r['shallow']} layers"
                                         for r in mine])
        ax.invert_yaxis()
        ax.set(xlabel="difference in final test accuracy", title=dataset)
    handles = [Line2D([], [], color="0.3", lw=5, label="95% CI over test images (bootstrap)"),
               Line2D([], [], color="0.3", lw=1.2, label="95% CI over seeds (Welch, unadjusted)"),
               Line2D([], [], color="0.3", marker="o", mfc="0.3", mec="black", ls="none",
                      label="both Holm p < 0.05"),
               Line2D([], [], color="0.3", marker="o", mfc="white", mec="black", ls="none",
                      label="not both"),
               Line2D([], [], color="C0", lw=3, label="flatten head"),
               Line2D([], [], color="C1", lw=3, label="GAP head")]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=9)
    seeds = len(next(_runs(next(iter(results.values()))))[2]["histories"])
    fig.suptitle(f"Deeper minus shallower: final test accuracy ({seeds} seeds per model)")
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    save_figure(fig, "train_actual_task_differences")
    return fig


def _test_at(hist: dict, epoch: int) -> float:
    """A history's test accuracy after ``epoch`` (NaN where it was not evaluated)."""
    value = hist["test_acc"][hist["epoch"].index(epoch)] if epoch in hist["epoch"] else None
    return float("nan") if value is None else float(value)  # stored runs hold NaN as None


def learning_speed(results: dict, epochs: tuple[int, ...] = (1, 3)):
    """Per dataset, head and depth: test accuracy after the given epochs and after the last
    one, each as mean ± 95% t-interval over seeds.

    Args:
        results: as returned by :func:`run`.
        epochs: the early epochs to show (one the runs did not reach is left out).

    Returns:
        a display DataFrame, one row per (dataset, head, depth).
    """
    from hw1.report import ci, table

    rows = []
    for name, res in results.items():
        for head, depth, r in _runs(res):
            hists = r["histories"]
            last = hists[0]["epoch"][-1]
            row = {"dataset": _label(results, name), "head": _head(head), "conv layers": depth}
            for e in (*[e for e in epochs if e < last], last):
                values = [_test_at(h, e) for h in hists]
                if np.isfinite(values).all():
                    row[f"after epoch {e}"] = ci(values)
            rows.append(row)
    return table(rows)


def figure_dataset(results: dict, name: str, zoom_from: int = 2) -> plt.Figure:
    """One dataset: one row per head; loss (left) and accuracy (right, zoomed to the range of
    the accuracies from epoch ``zoom_from`` on) per epoch, train solid and test dashed (at
    the epochs the test set was read), one colour per depth, each a mean over seeds with its
    95% t band (:func:`hw1.plotting.band`); saved as ``train_actual_task_<name>``.

    Args:
        results: as returned by :func:`run`.
        name: the dataset.
        zoom_from: the first epoch the accuracy axis shows.

    Returns:
        the figure.
    """
    from hw1.plotting import BAND_NOTE

    res = results[name]
    heads = list(res["heads"])
    fig = plt.figure(figsize=(10.4, 4.6 * len(heads) + 0.6))
    grid = fig.add_gridspec(2 * len(heads), 2, height_ratios=[1.0, 0.2] * len(heads))
    for row, head in enumerate(heads):
        ax_loss, ax_acc = fig.add_subplot(grid[2 * row, 0]), fig.add_subplot(grid[2 * row, 1])
        shown = []  # accuracies from epoch `zoom_from` on: the zoomed axis' range
        for depth, r in res["heads"][head].items():
            hists = [History.from_dict(h) for h in r["histories"]]
            epoch = np.array(hists[0].epoch)
            color = f"C{depth}"
            label = (f"{depth} conv layer{'s' * (depth > 1)} {r['widths']}: "
                     f"{r['conv_params']} conv + {r['head_params']} head params")
            for ax, key in ((ax_loss, "loss"), (ax_acc, "acc")):
                for part, ls in (("train", "-"), ("test", "--")):
                    values = np.array([getattr(h, f"{part}_{key}") for h in hists], dtype=float)
                    kept = np.isfinite(values).all(0)  # the test set is not read every epoch
                    band(ax, epoch[kept], values[:, kept], color=color, ls=ls,
                         label=label if (key, part) == ("loss", "train") else None)
                    if key == "acc":
                        shown.extend(values[:, kept & (epoch >= zoom_from)].ravel())
        ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title=f"{_head(head)} head: loss")
        low, high = min(shown), max(shown)
        pad = 0.1 * (high - low) + 0.005
        ax_acc.set(xlabel="epoch", ylabel="accuracy (zoomed)",
                   title=f"{_head(head)} head: accuracy from epoch {zoom_from} (zoomed)",
                   ylim=(max(0.0, low - pad), min(1.0, high + pad)), xlim=(zoom_from - 0.3, None))
        ax_loss.plot([], [], color="black", label="train (solid)")
        ax_loss.plot([], [], color="black", ls="--", label="test (dashed)")
        ax_legend = fig.add_subplot(grid[2 * row + 1, :])
        ax_legend.axis("off")
        ax_legend.legend(*ax_loss.get_legend_handles_labels(), loc="center", ncol=2)
    seeds = len(next(_runs(res))[2]["histories"])
    fig.suptitle(f"{_label(results, name)}: CNNs of equal parameter count, {seeds} seeds\n"
                 f"line: mean; {BAND_NOTE}")
    fig.tight_layout()
    save_figure(fig, f"train_actual_task_{name}")
    return fig


def figure_final_accuracy(results: dict) -> plt.Figure:
    """Final test accuracy of every model: one panel per dataset (row) and head (column), each
    on its own zoomed axis; one dot per seed and the mean with its 95% t interval over seeds
    (:func:`hw1.intervals.t_interval`); saved as ``train_actual_task_final_accuracy``.

    Args:
        results: as returned by :func:`run`.

    Returns:
        the figure.
    """
    heads = list(dict.fromkeys(h for res in results.values() for h in res["heads"]))
    fig, axes = plt.subplots(len(results), len(heads), figsize=(10.4, 3.4 * len(results) + 0.8),
                             squeeze=False)
    for row, name in enumerate(results):
        for col, head in enumerate(heads):
            ax = axes[row, col]
            runs = results[name]["heads"].get(head, {})
            for x, (depth, r) in enumerate(runs.items()):
                acc = np.array([h["test_acc"][-1] for h in r["histories"]])
                mean, half = t_interval(acc)
                ax.plot(np.full(len(acc), x) + np.linspace(-0.08, 0.08, len(acc)), acc, "o",
                        color=f"C{depth}", alpha=0.6)
                ax.errorbar(x + 0.25, mean, yerr=half, fmt="s", color="black", capsize=4,
                            label="mean ± 95% t interval" if x == 0 else None)
            ax.set_xticks(range(len(runs)), [f"{d} conv layer{'s' * (d > 1)}" for d in runs])
            ax.set_xlim(-0.5, len(runs) - 0.3)
            ax.set(ylabel="final test accuracy",
                   title=f"{_label(results, name)}, {_head(head)} head")
    from matplotlib.lines import Line2D

    handles, labels = axes[0, 0].get_legend_handles_labels()
    seed = Line2D([], [], color="0.5", marker="o", ls="none", alpha=0.6)
    axes[0, 0].legend([seed, *handles], ["one seed (colour: depth)", *labels], loc="lower right")
    seeds = len(next(_runs(next(iter(results.values()))))[2]["histories"])
    fig.suptitle(f"Final test accuracy per model ({seeds} seeds; each panel has its own "
                 "y-axis range)")
    fig.tight_layout()
    save_figure(fig, "train_actual_task_final_accuracy")
    return fig


def make_figures(results: dict) -> list[plt.Figure]:
    """Every figure of the notebook, one per dataset (:func:`figure_dataset`), the tested
    differences (:func:`figure_differences`) and the final accuracies they compare
    (:func:`figure_final_accuracy`), for ``python -m hw1.figures``.

    Args:
        results: as returned by :func:`run`.

    Returns:
        the figures, in the order of ``results``.
    """
    return [*(figure_dataset(results, name) for name in results),
            figure_differences(results), figure_final_accuracy(results)]
