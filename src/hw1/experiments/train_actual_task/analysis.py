"""The tables of the actual-task experiment: the runs described, the conv/head split and final
accuracies per head and depth, deeper minus shallower differences (paired over test images and
over seeds, Holm-adjusted) and the test accuracy after early epochs."""

from __future__ import annotations

import numpy as np

from hw1.data import dataset_label
from hw1.intervals import t_interval

from .run import HEADS


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
