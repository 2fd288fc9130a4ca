"""The tables of the label-corruption sweep: times to fit (all own labels, and the changed
labels alone), steps between levels and differences from the true-label control, with
intervals over seeds (and, for the test error, over test images) and Holm-adjusted
p-values."""

from __future__ import annotations

from functools import partial

import numpy as np


def _control(results: dict) -> list[dict]:
    """The true-label runs (corruption 0), which every comparison is made against."""
    if 0 not in results["levels"]:
        raise ValueError(f"no true-label control: corruption levels are "
                         f"{list(results['levels'])}; include 0.0 in Config.corruption")
    return results["levels"][0]


def _epochs_to(run: dict, threshold: float, key: str = "train_acc") -> float:
    """First recorded epoch at which the accuracy ``key`` of the history is ≥ ``threshold``
    (NaN if never): ``"train_acc"`` on all own labels, ``"acc_changed"`` on the changed
    labels only (the share of them memorized), ``"acc_unchanged"`` on the others."""
    h = run["history"]
    return next((float(e) for e, a in zip(h["epoch"], h[key], strict=True)
                 if a >= threshold), float("nan"))


def _at_epoch(run: dict, epoch: float, key: str) -> float:
    """The history's ``key`` at the recorded ``epoch`` (NaN for a NaN epoch)."""
    h = run["history"]
    return float("nan") if np.isnan(epoch) else float(h[key][h["epoch"].index(int(epoch))])


CHANGED_THRESHOLDS = (0.5, 0.9)
"""Shares of the changed labels whose first memorization is timed (the 99% criterion on all
own labels already requires 94% or more of them at every level, so both are reached)."""


def _thresholds() -> tuple[float, ...]:
    """Train accuracies (own labels) whose first crossing is timed: 90%, 95% and 99%."""
    return (0.9, 0.95, 0.99)


def _welch(a, b) -> dict[str, str | float]:
    """``mean(a) − mean(b)`` as the cells of :func:`hw1.report.welch` (difference with its
    95% Welch interval, and whether it excludes 0) plus its two-sided Welch p-value under
    ``"p"`` (NaN when neither side varies), without scipy's warning about identical values
    (a level whose seeds all took the same number of epochs)."""
    import warnings

    from scipy import stats

    from hw1.intervals import welch_difference
    from hw1.report import diff

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        w = welch_difference(a, b)
        p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return {"difference [95% CI]": diff(w["difference"], w["ci95_low"], w["ci95_high"]),
            "CI excludes 0": "yes" if w["excludes_0"] else "no", "p": p}


N_BOOT = 2000
"""Bootstrap replicates over test images. A bootstrap p-value of 0 (no replicate on the
other side of 0) is replaced by its resolution ``2 / N_BOOT`` before the Holm adjustment,
and the adjusted value is printed as an upper bound (``≤``)."""


def _holm_column(rows: list[dict], key: str = "p", name: str = "Holm p",
                 family: str | None = None) -> list[dict]:
    """Replace each row's raw p-value ``key`` by its Holm-adjusted value over the rows of the
    table (a NaN p, from seeds without spread, is left out and shown as n/a). ``family``: a
    row key whose value splits the rows into separate families (e.g. ``"threshold"``: one
    family per threshold); None: the whole table is one family. A raw p given as a pair
    ``(p, floored)`` marks a bootstrap p at its resolution: its adjusted value prints as
    ``≤ value``."""
    from hw1.intervals import holm
    from hw1.report import num

    raw = [r[key] if isinstance(r[key], tuple) else (r[key], False) for r in rows]
    p = np.array([v for v, _ in raw], dtype=float)
    groups = [r.get(family) for r in rows] if family else [None] * len(rows)
    adjusted = np.full(len(p), np.nan)
    for g in dict.fromkeys(groups):
        idx = np.array([i for i, x in enumerate(groups) if x == g and np.isfinite(p[i])],
                       dtype=int)
        if len(idx):
            adjusted[idx] = holm(p[idx])
    # an adjusted value reached through a floored p (at most the largest adjusted value of
    # the floored rows of its family: Holm's values rise with the raw p) is a bound too
    bound = {g: max((a for a, (_, f), x in zip(adjusted, raw, groups, strict=True)
                     if f and x == g), default=-1.0) for g in set(groups)}
    for i, (r, a) in enumerate(zip(rows, adjusted, strict=True)):
        upper = raw[i][1] or a <= bound[groups[i]] * (1 + 1e-9)
        r[key] = "n/a" if np.isnan(a) else ("≤ " if upper else "") + num(a)
        rows[i] = {(name if k == key else k): v for k, v in r.items()}  # in place of p
    return rows


def _epochs_cell(values) -> str:
    """Epochs over seeds as a table cell: ``mean ± half-width`` (:func:`hw1.report.ci`), or
    ``"22 (all 3 seeds)"`` when every seed took the same whole number of epochs (a zero-width
    interval says nothing)."""
    from hw1.report import ci

    v = np.asarray(values, dtype=float)
    if len(v) > 1 and np.all(v == v[0]) and float(v[0]).is_integer():
        return f"{int(v[0])} (all {len(v)} seeds)"
    return ci(v)


def _paired(high: list[dict], low: list[dict], value) -> str:
    """``value(high run) − value(low run)`` per seed (the runs matched by their seed), as
    ``"+d [low, high]"``: the mean difference with its 95% paired t-interval."""
    from hw1.report import paired

    by_seed = {r["seed"]: value(r) for r in low}
    return paired([value(r) for r in high],
                  [by_seed[r["seed"]] for r in high])["difference [95% CI]"]


SUMMARY_PARTS = ("fit", "accuracy")
"""The two halves of :func:`summary`: the fit (labels changed, runs that fit, epochs) and the
accuracies (train on own and true labels, test error and loss)."""


def summary(results: dict, part: str = "fit"):
    """Per corruption level p, one of two tables (``part``, :data:`SUMMARY_PARTS`).

    ``"fit"``: the share of labels actually changed ("—" for the control, which has none),
    runs that fit, epochs run (the epochs to fit when every run fit; a run that hit the cap
    counts its cap, a lower bound) and its mean as a multiple of the true-label control's.
    ``"accuracy"``: final train accuracy on the corrupted and on the true labels, test error
    and loss. Entries are mean ± 95% t half-width over seeds.
    """
    from hw1.report import ci, table

    if part not in SUMMARY_PARTS:
        raise ValueError(f"part must be one of {SUMMARY_PARTS}, got {part!r}")
    out = []
    control = np.mean([r["epochs"] for r in _control(results)])
    for level, rows in results["levels"].items():
        col = {k: [r[k] for r in rows] for k in rows[0] if k != "history"}
        if part == "fit":
            out.append({"p": f"{level:g}",
                        "labels changed": "—" if level == 0 else ci(col["labels_changed"]),
                        "runs that fit": f"{sum(bool(v) for v in col['reached'])}/{len(rows)}",
                        "epochs run": _epochs_cell(col["epochs"]),
                        "÷ control": float(np.mean(col["epochs"])) / control})
        else:
            out.append({"p": f"{level:g}",
                        "train acc (own labels)": ci(col["train_acc"]),
                        "train acc (true labels)": ci(col["train_acc_true_labels"]),
                        "test error": ci(1 - np.asarray(col["test_acc"])),
                        "test loss": ci(col["test_loss"])})
    return table(out)


def epochs_to_reach(results: dict, thresholds: tuple[float, ...] = (0.9, 0.95, 0.99)):
    """Per corruption level: epochs until the train accuracy on the model's own labels first
    reaches each threshold (mean ± 95% t half-width over seeds, from the recorded history),
    and that mean as a multiple of the control's."""
    from hw1.report import table

    control = _control(results)
    out = []
    for level, rows in results["levels"].items():
        row = {"p": f"{level:g}"}
        for t in thresholds:
            epochs = [_epochs_to(r, t) for r in rows]
            base = np.mean([_epochs_to(r, t) for r in control])
            row[f"to {t:.0%}"] = _epochs_cell(epochs)
            row[f"÷ control ({t:.0%})"] = float(np.mean(epochs) / base)
        out.append(row)
    return table(out)


def level_differences(results: dict, thresholds: tuple[float, ...] = (0.9, 0.99),
                      key: str = "train_acc"):
    """Epochs until the accuracy ``key`` (see :func:`_epochs_to`) reaches each threshold:
    each level minus the next lower one (levels where it is defined: with ``"acc_changed"``
    the corrupted ones), with the 95% Welch interval (it ignores that the levels share
    seeds, initializations and batch orders), the 95% paired t-interval of the per-seed
    differences, and the Welch p-value Holm-adjusted within each threshold (one family per
    threshold: the steps between consecutive levels at that threshold)."""
    from hw1.report import table

    levels = sorted(lv for lv in results["levels"] if key != "acc_changed" or lv > 0)
    out = []
    for t in thresholds:
        time = partial(_epochs_to, threshold=t, key=key)
        for low, high in zip(levels, levels[1:], strict=False):
            out.append({"threshold": f"{t:.0%}", "levels": f"{high:g} − {low:g}",
                        **_welch([time(r) for r in results["levels"][high]],
                                 [time(r) for r in results["levels"][low]]),
                        "paired by seed [95% CI]": _paired(
                            results["levels"][high], results["levels"][low], time)})
    return table(_holm_column(out, family="threshold"))


def changed_label_times(results: dict, thresholds: tuple[float, ...] = CHANGED_THRESHOLDS):
    """Per corrupted level: the share of the changed labels memorized (the accuracy on them)
    when the train accuracy on all own labels first reaches 90%, the epochs until the first
    ``thresholds`` shares of the changed labels are memorized (mean ± 95% t half-width over
    seeds), the accuracy on the unchanged labels at the first of those times, and the
    shares memorized at the fit (the 99% criterion)."""
    from hw1.report import ci, table

    out = []
    for level, rows in results["levels"].items():
        if level == 0:
            continue
        at90 = [_at_epoch(r, _epochs_to(r, 0.9), "acc_changed") for r in rows]
        row = {"p": f"{level:g}", "changed memorized at 90% overall": ci(at90)}
        for t in thresholds:
            row[f"epochs to {t:.0%} of changed"] = _epochs_cell(
                [_epochs_to(r, t, "acc_changed") for r in rows])
        first = thresholds[0]
        row[f"unchanged acc then ({first:.0%})"] = ci(
            [_at_epoch(r, _epochs_to(r, first, "acc_changed"), "acc_unchanged") for r in rows])
        row["changed memorized at fit"] = ci([r["history"]["acc_changed"][-1] for r in rows])
        row["unchanged acc at fit"] = ci([r["history"]["acc_unchanged"][-1] for r in rows])
        out.append(row)
    return table(out)


def _image_cells(results: dict, level: float) -> dict:
    """Test error of ``level`` minus the control's, paired over the test images: a bootstrap
    over images of the seed-mean difference (:func:`hw1.intervals.bootstrap_accuracy_difference`
    on the stored per-image correctness, control first, so that the accuracy difference is
    the error difference), as a 95% interval and a raw p-value ``(p, floored)`` (a p of 0
    floored at ``2 / N_BOOT``); no cells without per-image correctness."""
    correct = results.get("test_correct", {})
    if level not in correct or 0 not in correct:
        return {}
    from hw1.intervals import bootstrap_accuracy_difference
    from hw1.report import diff

    d = bootstrap_accuracy_difference(correct[0], correct[level], n_boot=N_BOOT)
    floored = d["p"] < 2 / N_BOOT
    return {"over images [95% CI]": diff(d["difference"], d["ci95_low"], d["ci95_high"]),
            "over images: p": (max(d["p"], 2 / N_BOOT), floored)}


CONTROL_QUANTITIES = ("epochs to fit", "test error")


def differences_from_control(results: dict, quantity: str = "epochs to fit"):
    """Each corruption level minus the true-label control, one row per level, in ``quantity``
    (:data:`CONTROL_QUANTITIES`): epochs to fit (the 99% criterion) or test error, with the
    95% Welch t-interval over seeds and its p-value; for the test error also paired over the
    test images (bootstrap over images). Each p-value column is Holm-adjusted over the levels
    (one family per quantity and test)."""
    from hw1.report import table

    if quantity not in CONTROL_QUANTITIES:
        raise ValueError(f"quantity must be one of {CONTROL_QUANTITIES}, got {quantity!r}")
    f = (lambda r: r["epochs"]) if quantity == "epochs to fit" else (lambda r: 1 - r["test_acc"])
    base = _control(results)
    rows = []
    for level, runs in results["levels"].items():
        if level == 0:
            continue
        cells = _welch([f(r) for r in runs], [f(r) for r in base])
        row = {"p": f"{level:g}", "p − control [95% CI]": cells["difference [95% CI]"],
               "CI excludes 0": cells["CI excludes 0"], "seeds: p": cells["p"]}
        if quantity == "test error":
            row.update(_image_cells(results, level))
        rows.append(row)
    _holm_column(rows, "seeds: p", "Holm p")
    if rows and "over images: p" in rows[0]:
        _holm_column(rows, "over images: p", "over images: Holm p")
    return table(rows)
