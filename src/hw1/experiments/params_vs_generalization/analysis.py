"""The tables of the parameter-count sweep: final metrics per width at either budget, the
comparisons between widths (over seeds, Welch; and paired over test images, a bootstrap),
the budget check, with p-values Holm-adjusted within each table."""

from __future__ import annotations

import numpy as np

BUDGETS = ("main", "check")
"""``"main"``: the ``epochs`` budget of every width; ``"check"``: the longer ``check_epochs``."""


def _rows(res: dict, budget: str) -> list[dict]:
    """One dataset's per-width rows at ``budget`` (:data:`BUDGETS`)."""
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {BUDGETS}, got {budget!r}")
    return res["rows"] if budget == "main" else res["check_rows"]


def _epochs(res: dict, budget: str) -> int:
    return res["epochs"] if budget == "main" else res["check_epochs"]


def _flattening(row: dict, flat_epochs: int) -> np.ndarray:
    """Per seed: relative change of the train loss over the last ``flat_epochs`` epochs,
    ``(L[end − flat_epochs] − L[end]) / L[end − flat_epochs]``, from the recorded curve
    (``curve_epochs`` gives the epoch of each entry; without it, every epoch)."""
    curves = np.asarray(row["train_loss_curve"])
    epochs = list(row.get("curve_epochs", range(curves.shape[1])))
    before, end = curves[:, epochs.index(epochs[-1] - flat_epochs)], curves[:, -1]
    return (before - end) / before


def _percent(fraction: float) -> str:
    """A fraction as a percentage with 3 significant digits (``0.138`` → ``"13.8%"``)."""
    from hw1.report import num

    return f"{num(100 * fraction)}%"


def _welch_cells(a, b, what: str) -> dict[str, str | float]:
    """``mean(a) − mean(b)`` with its 95% Welch interval and two-sided Welch p-value, as cells
    named after ``what`` (the p-value raw, under ``"<what>: p"``, for :func:`_holm`).

    Args:
        a, b: ``(seeds,)`` values of the two settings compared.
        what: the quantity, e.g. ``"test acc"``.

    Returns:
        ``{"<what> [95% CI]": "+0.0402 [0.0171, 0.0634]", "<what>: p": 0.003}``.
    """
    from scipy import stats

    from hw1.intervals import welch_difference
    from hw1.report import diff

    w = welch_difference(a, b)
    p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return {f"{what} [95% CI]": diff(w["difference"], w["ci95_low"], w["ci95_high"]),
            f"{what}: p": p}


def _paired_cells(a, b, what: str) -> dict[str, str | float]:
    """``mean(a − b)`` over seeds with its 95% paired t-interval and p-value
    (``scipy.stats.ttest_rel``), as cells named after ``what`` (p raw, for :func:`_holm`).

    Args:
        a, b: ``(seeds,)`` values of the two settings compared, the same seeds in the same
            order (e.g. the longer and the main budget of one width).
        what: the quantity, e.g. ``"Δ test acc"``.
    """
    from scipy import stats

    from hw1.report import paired

    return {f"{what} [95% paired CI]": paired(a, b)["difference [95% CI]"],
            f"{what}: p": float(stats.ttest_rel(a, b).pvalue)}


def _image_cells(a: dict, b: dict, what: str = "over images") -> dict[str, str | float]:
    """Test accuracy of row ``a`` minus row ``b`` paired over the test images: a bootstrap
    over images of the seed-mean difference (:func:`hw1.intervals.bootstrap_accuracy_difference`
    on the rows' ``test_correct`` ``(seeds, n_test)``), as a 95% interval and a raw p-value;
    no cells for rows without per-image correctness."""
    if "test_correct" not in a or "test_correct" not in b:
        return {}
    from hw1.intervals import bootstrap_accuracy_difference
    from hw1.report import diff

    d = bootstrap_accuracy_difference(a["test_correct"], b["test_correct"], n_boot=N_BOOT)
    floor = 2 / N_BOOT
    return {f"{what} [95% CI]": diff(d["difference"], d["ci95_low"], d["ci95_high"]),
            f"{what}: p": (max(float(d["p"]), floor), bool(d["p"] < floor))}


N_BOOT = 2000
"""Bootstrap replicates over test images. The two-sided bootstrap p-value moves in steps of
``2 / N_BOOT``; a p of 0 (no replicate on the other side of 0) is replaced by that resolution
before any Holm adjustment, and the (adjusted) value is printed as an upper bound, ``≤``."""


def _p_value(p) -> tuple[float, bool]:
    """A raw p-value cell as ``(p, floored)``: bootstrap cells come as such a pair (floored:
    the p was 0 and stands at its resolution ``2 / N_BOOT``), t-test cells as a float."""
    return (float(p[0]), bool(p[1])) if isinstance(p, tuple) else (float(p), False)


def _p_cell(p: float, floored: bool = False) -> str:
    """A p-value as a table cell: ``n/a`` for NaN, else 3 significant digits, preceded by
    ``≤`` when it derives from a bootstrap p at its resolution (an upper bound)."""
    from hw1.report import num

    if np.isnan(p):
        return "n/a"
    return ("≤ " if floored else "") + num(p)


def _holm(rows: list[dict]) -> list[dict]:
    """Replace every raw p-value column ``"<what>: p"`` by ``"<what>: Holm p"``, adjusted
    over the rows of the table (one family per column, i.e. per quantity and test)."""
    from hw1.intervals import holm

    keys = sorted({k for r in rows for k in r if k.endswith(": p")})
    for key in keys:
        have = [r for r in rows if key in r]
        raw = [_p_value(r[key]) for r in have]
        p = np.array([v for v, _ in raw], dtype=float)
        adjusted = np.full(len(p), np.nan)
        ok = np.isfinite(p)
        if ok.any():
            adjusted[ok] = holm(p[ok])
        # an adjusted value reached through a floored p (at most the largest adjusted value
        # of the floored rows: Holm's values rise with the raw p) is an upper bound too
        bound = max((a for a, (_, f) in zip(adjusted, raw, strict=True) if f), default=-1.0)
        for r, a, (_, floored) in zip(have, adjusted, raw, strict=True):
            r[key] = _p_cell(a, floored or a <= bound * (1 + 1e-9))
    renamed = [{(k[:-1] + "Holm p" if k in keys else k): v for k, v in r.items()} for r in rows]
    return renamed


def _label(results: dict, name: str) -> str:
    """The dataset's display name (``"CIFAR-10 (JPEG copy)"`` for the offline copy)."""
    from hw1.data import dataset_label

    return dataset_label(results[name]["source"], name)


def n_times_k(res: dict) -> int:
    """The number of training labels times the number of classes, ``n · K``: the parameter
    count at which a model can first fit every label exactly by parameter counting."""
    return res["n_train"] * res["num_classes"]


def summary(results: dict, name: str, budget: str = "main"):
    """One dataset's final metrics per width at ``budget`` (:data:`BUDGETS`): parameters,
    train and test loss and accuracy, the loss gap test − train (mean ± 95% t half-width
    over seeds), and the largest relative drop of the train loss over the last epochs among
    the seeds (how flat the end of training is).

    Args:
        results: the output of :func:`run`.
        name: the dataset (a key of ``results``).
        budget: ``"main"`` or ``"check"``.

    Returns:
        A DataFrame (:func:`hw1.report.table`), one row per width.
    """
    from hw1.report import ci, table

    res = results[name]
    out = []
    for r in _rows(res, budget):
        flat = _flattening(r, res["flat_epochs"])
        out.append({"width w": r["width"], "parameters": r["n_params"],
                    "train loss": ci(r["train_loss"]), "train acc": ci(r["train_acc"]),
                    "train acc, lowest seed": float(np.min(r["train_acc"])),
                    "test loss": ci(r["test_loss"]), "test acc": ci(r["test_acc"]),
                    "loss gap (test − train)": ci(np.subtract(r["test_loss"],
                                                              r["train_loss"])),
                    f"train-loss drop, last {res['flat_epochs']} epochs": _percent(flat.max())})
    return table(out)


def _first_fitting(res: dict, rows: list[dict]) -> int | None:
    """Index of the first width whose every seed reaches ``fit_acc`` train accuracy."""
    fits = [min(r["train_acc"]) >= res["fit_acc"] for r in rows]
    return fits.index(True) if True in fits else None


def _lowest_test_loss(rows: list[dict]) -> int:
    return int(np.argmin([np.mean(r["test_loss"]) for r in rows]))


def primary_comparisons(results: dict):
    """The declared primary comparison of each dataset at both budgets: MNIST, the widest
    width minus the first width whose every seed fits; CIFAR-10 (and any other dataset), the
    widest minus the width of lowest mean test loss (when that is the widest, the first
    fitting width instead). Test accuracy over seeds (95% Welch interval) and paired over
    the test images (bootstrap), test loss over seeds; the four comparisons (two datasets ×
    two budgets) are one family: each p-value column is Holm-adjusted over them.

    Returns:
        A DataFrame (:func:`hw1.report.table`), one row per dataset and budget.
    """
    from hw1.report import table

    out = []
    for name, res in results.items():
        for budget in BUDGETS:
            rows = _rows(res, budget)
            if len(rows) < 2:
                continue
            ref = _first_fitting(res, rows) if name == "mnist" else _lowest_test_loss(rows)
            if ref is None or ref == len(rows) - 1:
                ref = _first_fitting(res, rows)
            row = {"dataset": _label(results, name), "epochs": _epochs(res, budget)}
            if ref is None or ref == len(rows) - 1:
                out.append({**row, "widths": "no narrower reference width"})
                continue
            a, b = rows[-1], rows[ref]
            out.append({**row, "widths": f"{a['width']} − {b['width']}",
                        "reference": ("first fitting" if ref == _first_fitting(res, rows)
                                      else "lowest test loss"),
                        **_welch_cells(a["test_acc"], b["test_acc"], "test acc"),
                        **_image_cells(a, b),
                        **_welch_cells(a["test_loss"], b["test_loss"], "test loss")})
    return table(_holm(out))  # the primary comparisons: one family


def fitting_regime(results: dict, budget: str = "main"):
    """Per dataset at ``budget``: the smallest width whose every seed fits (train accuracy
    ≥ ``fit_acc``), and the test accuracy difference between each larger width that also
    fits and it, over seeds (95% Welch interval) and over test images (bootstrap), p-values
    Holm-adjusted within the table. A row with no difference says when no wider width fits
    (or none fits at all).

    Returns:
        A DataFrame (:func:`hw1.report.table`).
    """
    from hw1.report import num, table

    out = []
    for name, res in results.items():
        rows = _rows(res, budget)
        label = _label(results, name)
        first = _first_fitting(res, rows)
        if first is None:
            out.append({"dataset": label, "first fitting width": "none"})
            continue
        wider = [r for r in rows[first + 1:] if min(r["train_acc"]) >= res["fit_acc"]]
        if not wider:
            out.append({"dataset": label, "first fitting width": rows[first]["width"],
                        "wider width w": "no wider width in the sweep"})
        for r in wider:
            out.append({"dataset": label, "first fitting width": rows[first]["width"],
                        "wider width w": r["width"], "parameters": num(r["n_params"]),
                        **_welch_cells(r["test_acc"], rows[first]["test_acc"], "test acc"),
                        **_image_cells(r, rows[first])})
    return table(_holm(out))


def budget_check(results: dict, name: str):
    """One dataset, per width trained at both budgets: the final train accuracy after each
    (means over seeds), the test accuracy and loss differences longer − main with 95%
    paired t-intervals over seeds (both budgets train the same seeds from the same
    initializations), the test accuracy difference paired over test images (bootstrap),
    p-values Holm-adjusted within the table, and the largest train-loss drop over the last
    ``flat_epochs`` epochs of the longer run.

    Returns:
        A DataFrame (:func:`hw1.report.table`), one row per checked width.
    """
    from hw1.report import table

    res = results[name]
    main = {r["width"]: r for r in res["rows"]}
    short, long_ = res["epochs"], res["check_epochs"]
    out = []
    for r in res["check_rows"]:
        m = main[r["width"]]
        out.append({"width w": r["width"],
                    f"train acc, {short} ep": float(np.mean(m["train_acc"])),
                    f"train acc, {long_} ep": float(np.mean(r["train_acc"])),
                    **_paired_cells(r["test_acc"], m["test_acc"], "Δ test acc"),
                    **_image_cells(r, m, "Δ test acc over images"),
                    **_paired_cells(r["test_loss"], m["test_loss"], "Δ test loss"),
                    f"train-loss drop, last {res['flat_epochs']} of {long_} ep":
                        _percent(_flattening(r, res["flat_epochs"]).max())})
    return table(_holm(out))


def differences_from_lowest_test_loss(results: dict, key: str = "test_acc",
                                      budget: str = "main"):
    """Per dataset at ``budget``, each wider width minus the width with the lowest mean test
    loss, in ``key``, with its 95% Welch interval (and, for test accuracy, paired over test
    images), p-values Holm-adjusted within the table: do accuracy and loss move together
    past it? A dataset whose lowest test loss is at the widest width gets a row saying so.

    Returns:
        A DataFrame (:func:`hw1.report.table`).
    """
    from hw1.report import table

    what = key.replace("_", " ")
    out = []
    for name, res in results.items():
        rows = _rows(res, budget)
        ref = _lowest_test_loss(rows)
        if ref == len(rows) - 1:
            out.append({"dataset": _label(results, name),
                        "widths": f"none: lowest test loss at the widest, {rows[ref]['width']}"})
        for r in rows[ref + 1:]:
            images = _image_cells(r, rows[ref]) if key == "test_acc" else {}
            out.append({"dataset": _label(results, name),
                        "widths": f"{r['width']} − {rows[ref]['width']}",
                        **_welch_cells(r[key], rows[ref][key], what), **images})
    return table(_holm(out))


def consecutive_differences(results: dict, name: str, budget: str = "main"):
    """One dataset at ``budget``: each width minus the next smaller one in test accuracy
    (over seeds, 95% Welch interval, and paired over test images) and in test loss (Welch),
    p-values Holm-adjusted within the table per column: where does the curve still move?

    Args:
        results: the output of :func:`run`.
        name: the dataset (a key of ``results``).
        budget: ``"main"`` or ``"check"``.

    Returns:
        A DataFrame (:func:`hw1.report.table`), one row per pair of consecutive widths.
    """
    from hw1.report import table

    return table(_holm(_consecutive_raw(results, name, budget)))


def _consecutive_raw(results: dict, name: str, budget: str) -> list[dict]:
    """The rows of :func:`consecutive_differences` before the Holm adjustment (raw p-values:
    floats, or ``(p, floored)`` pairs for the bootstrap over images)."""
    rows = _rows(results[name], budget)
    out = []
    for smaller, r in zip(rows, rows[1:], strict=False):
        images = _image_cells(r, smaller)
        out.append({"widths": f"{r['width']} − {smaller['width']}",
                    **_welch_cells(r["test_acc"], smaller["test_acc"], "test acc"), **images,
                    **_welch_cells(r["test_loss"], smaller["test_loss"], "test loss")})
    return out


def _holm_resolved(rows: list[dict], key: str, alpha: float = 0.05) -> int | str:
    """How many of ``rows``' raw p-values under ``key`` stay below ``alpha`` after the Holm
    adjustment within those rows (the numbers behind the ``Holm p`` column of
    :func:`consecutive_differences`); ``"n/a"`` when no row has the test."""
    from hw1.intervals import holm

    p = np.array([_p_value(r[key])[0] for r in rows if key in r], dtype=float)
    p = p[np.isfinite(p)]
    if not len(p):
        return "n/a"
    return int((holm(p) < alpha).sum())


def doubling_counts(results: dict):
    """Per dataset and budget, over the doublings of width (:func:`consecutive_differences`):
    how many there are, how many raise the mean test accuracy, and how many are resolved
    (Holm p < 0.05 within that table, per column) over seeds and over test images; a last
    row sums them.

    Returns:
        A DataFrame (:func:`hw1.report.table`).
    """
    from hw1.report import table

    out = []
    for name, res in results.items():
        for budget in BUDGETS:
            rows = _rows(res, budget)
            if len(rows) < 2:
                continue
            diffs = [np.mean(b["test_acc"]) - np.mean(a["test_acc"])
                     for a, b in zip(rows, rows[1:], strict=False)]
            raw = _consecutive_raw(results, name, budget)
            out.append({"dataset": _label(results, name), "epochs": _epochs(res, budget),
                        "doublings": len(diffs),
                        "mean test acc rises": int(sum(d > 0 for d in diffs)),
                        "resolved over seeds (Holm)": _holm_resolved(raw, "test acc: p"),
                        "resolved over images (Holm)": _holm_resolved(raw, "over images: p")})
    if len(out) > 1:
        total = {"dataset": "all", "epochs": "both"}
        for k in ("doublings", "mean test acc rises", "resolved over seeds (Holm)",
                  "resolved over images (Holm)"):
            vals = [r[k] for r in out]
            total[k] = sum(vals) if all(isinstance(v, int) for v in vals) else "n/a"
        out.append(total)
    return table(out)


def lowest_test_loss_range(results: dict):
    """Per dataset and budget: the width of lowest mean test loss, and the widths whose test
    loss is not resolved from it (their 95% Welch interval of the difference from the lowest
    contains 0; uncorrected, so the range is if anything too narrow): the location of the
    minimum is known only up to that range.

    Returns:
        A DataFrame (:func:`hw1.report.table`).
    """
    from hw1.intervals import welch_difference
    from hw1.report import ci, table

    out = []
    for name, res in results.items():
        for budget in BUDGETS:
            rows = _rows(res, budget)
            if not rows:
                continue
            ref = _lowest_test_loss(rows)
            within = [r["width"] for r in rows
                      if r is rows[ref] or not welch_difference(
                          r["test_loss"], rows[ref]["test_loss"])["excludes_0"]]
            out.append({"dataset": _label(results, name), "epochs": _epochs(res, budget),
                        "lowest mean test loss at width": rows[ref]["width"],
                        "its test loss": ci(rows[ref]["test_loss"]),
                        "widths not resolved from it": ", ".join(map(str, within))})
    return table(out)
