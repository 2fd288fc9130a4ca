"""Tables and statistics of the double-descent notebook: what the Findings quote.

Every function takes one arm's results as :func:`hw1.experiments.double_descent.run` returns
them (the main arm is the top level; ``results["clean"]``, ``results["small_n"]`` and
``results["confirm"]`` have the same layout), except where it says it needs the whole result.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from hw1.intervals import welch_difference

LAST_RECORDS = 3
"""Records averaged by the robust interpolation criteria (epochs 250, 275 and 300 in the full
profile)."""

TRAIN_ERROR_TOL = 0.001
"""Robust interpolation: train error (noisy labels) at most this, averaged over the last
:data:`LAST_RECORDS` records, in every seed (0.1%: 4 of 4,000 images)."""

CHANGED_FITTED_MIN = 0.999
"""Robust memorization: at least this fraction of the changed labels fitted, averaged over the
last :data:`LAST_RECORDS` records, in every seed."""

_HISTORY = {"train_error": "train_acc", "test_error": "test_acc", "train_loss": "train_loss",
            "test_loss": "test_loss", "changed_fitted": "changed_fitted",
            "unchanged_fitted": "unchanged_fitted"}


def _column(entry: dict, key: str, epoch: int | None = None) -> np.ndarray:
    """Per seed ``(S,)``: ``key`` at the end of training, or at a recorded ``epoch`` (history
    keys: train/test error and loss, ``changed_fitted``, ``unchanged_fitted``)."""
    if epoch is not None:
        name = _HISTORY[key]
        values = np.array([r["history"][name][r["history"]["epoch"].index(epoch)]
                           for r in entry["rows"]], dtype=float)
        return 1 - values if key.endswith("_error") else values
    if key.endswith("_error"):
        return 1 - np.array([r[key.replace("_error", "_acc")] for r in entry["rows"]])
    return np.array([r[key] for r in entry["rows"]], dtype=float)


def recorded_epochs(results: dict) -> list[int]:
    """The epochs at which every model's train and test accuracy were recorded."""
    return [ep for ep in results["widths"][0]["rows"][0]["history"]["epoch"] if ep > 0]


def last_records(entry: dict, key: str, k: int = LAST_RECORDS) -> np.ndarray:
    """Per seed ``(S,)``: the mean of ``key`` (a history key of :func:`_column`) over the last
    ``k`` recorded epochs."""
    epochs = [ep for ep in entry["rows"][0]["history"]["epoch"] if ep > 0][-k:]
    return np.mean([_column(entry, key, ep) for ep in epochs], axis=0)


def first_width(results: dict, test) -> tuple[dict | None, bool]:
    """The first width whose entry passes ``test`` (``entry -> bool``), and whether every
    larger width passes it too.

    Returns:
        ``(entry or None, stays)``; ``stays`` is False when no width passes.
    """
    widths = results["widths"]
    for i, e in enumerate(widths):
        if test(e):
            return e, all(test(later) for later in widths[i + 1:])
    return None, False


def criteria(k: int = LAST_RECORDS) -> dict:
    """The four ways of saying a width fits its training set, as ``name -> test(entry)``:
    the two robust ones (the mean over the last ``k`` records, in every seed) and the two exact
    ones at the last record (in every seed)."""
    return {
        f"train error ≤ {TRAIN_ERROR_TOL:.1%}, last {k} records":
            lambda e: bool(np.all(last_records(e, "train_error", k) <= TRAIN_ERROR_TOL)),
        f"changed labels fitted ≥ {CHANGED_FITTED_MIN:.1%}, last {k} records":
            lambda e: bool(np.all(last_records(e, "changed_fitted", k) >= CHANGED_FITTED_MIN)),
        "train error exactly 0, last record":
            lambda e: bool(np.all(_column(e, "train_error") == 0)),
        "every changed label fitted, last record":
            lambda e: bool(np.all(_column(e, "noisy_labels_fitted") == 1)),
    }


def robust_interpolation(results: dict) -> dict | None:
    """The first width meeting the robust train-error criterion (:data:`TRAIN_ERROR_TOL`)."""
    return first_width(results, next(iter(criteria().values())))[0]


def summary(results: dict) -> list[dict]:
    """Per width: parameters (and as a multiple of n·K), train error on the noisy labels,
    the fraction of the changed labels fitted, test error and loss, train loss (mean ± 95% t
    half-width over seeds, as text), all at the end of training."""
    from hw1.report import ci

    return [{"width": e["width"], "params": e["n_params"],
             "params / n·K": e["n_params"] / results["threshold"],
             "train error (noisy labels)": ci(_column(e, "train_error")),
             "changed labels fitted": ci(_column(e, "noisy_labels_fitted")),
             "test error": ci(_column(e, "test_error")),
             "train loss": ci(_column(e, "train_loss")),
             "test loss": ci(_column(e, "test_loss"))}
            for e in results["widths"]]


def _shown(rows: list[dict], shown: tuple[int, ...] | None) -> list[int] | None:
    from hw1.report import MAX_ROWS

    if len(rows) <= MAX_ROWS or shown is None:
        return None if len(rows) <= MAX_ROWS else list(range(MAX_ROWS))
    return [i for i, r in enumerate(rows) if r["width"] in shown]


def summary_table(results: dict, name: str = "double_descent_by_width",
                  shown: tuple[int, ...] | None = (2, 6, 10, 16, 20, 24, 30, 40, 50, 100, 200,
                                                   400)):
    """:func:`summary` as a display table; every width goes to ``tables/<name>.csv``.

    Args:
        results: one arm of :func:`run`.
        name: the CSV file's name.
        shown: the widths displayed when there are more widths than a shown table holds.

    Returns:
        A DataFrame, one row per shown width.
    """
    from hw1.report import long_table

    rows = summary(results)
    return long_table(rows, name, keep=_shown(rows, shown))


def interpolation_table(results: dict, k: int = LAST_RECORDS,
                        shown: tuple[int, ...] | None = (12, 16, 20, 24, 30, 35, 40, 45, 50,
                                                         100, 200, 400)):
    """Per width, averaged over the last ``k`` records: train error on the noisy labels
    (mean ± 95% t half-width over seeds, and the largest seed's value), the fraction of the
    changed and of the unchanged labels fitted; every width to
    ``tables/double_descent_interpolation.csv``.

    Returns:
        A DataFrame, one row per shown width.
    """
    from hw1.report import ci, long_table

    rows = []
    for e in results["widths"]:
        train = last_records(e, "train_error", k)
        rows.append({"width": e["width"], "params / n·K": e["n_params"] / results["threshold"],
                     f"train error, last {k} records": ci(train),
                     "largest seed": float(train.max()),
                     "changed labels fitted": ci(last_records(e, "changed_fitted", k)),
                     "unchanged labels fitted": ci(last_records(e, "unchanged_fitted", k))})
    return long_table(rows, "double_descent_interpolation", keep=_shown(rows, shown))


def thresholds(results: dict) -> list[dict]:
    """Where each fitting criterion of :func:`criteria` is first met, and whether it then
    holds at every larger width: ``where``, ``width``, ``params``, ``params / n·K``,
    ``holds at every larger width``."""
    out = []
    for name, test in criteria().items():
        e, stays = first_width(results, test)
        out.append(_landmark(results, name, e) | {"holds at every larger width": stays
                                                  if e is not None else ""})
    return out


def _landmark(results: dict, name: str, e: dict | None) -> dict:
    if e is None:
        return {"where": name, "width": "none", "params": "", "params / n·K": ""}
    return {"where": name, "width": e["width"], "params": e["n_params"],
            "params / n·K": e["n_params"] / results["threshold"]}


def landmarks(results: dict):
    """Where things happen, in parameters and as a multiple of n·K: the test-error and
    test-loss peaks (:func:`peak`), each fitting criterion (:func:`thresholds`), and n·K.

    Args:
        results: one arm of :func:`run`.

    Returns:
        A DataFrame with columns ``where``, ``width``, ``params``, ``params / n·K``,
        ``holds at every larger width``.
    """
    from hw1.report import table

    by_width = {e["width"]: e for e in results["widths"]}
    out = []
    for key in ("test_error", "test_loss"):
        rows = peak(results, key)
        out.append(_landmark(results, f"{key.replace('_', ' ')} peak",
                             by_width[rows[0]["peak width"]] if rows else None))
    out += thresholds(results)
    out.append({"where": f"n·K = {results['n_train']:,} images × {results['num_classes']} "
                         "classes", "width": "", "params": results["threshold"],
                "params / n·K": 1.0})
    return table(out)


def p_text(p: float, n_boot: int = 2000) -> str:
    """A p-value as a table cell; a bootstrap p of 0 (no replicate on the other side of 0) as
    ``< 1/n_boot``."""
    from hw1.report import num

    return f"< {num(1 / n_boot)}" if p == 0 else num(p)


def welch_p(a, b) -> float:
    """Two-sided p-value of Welch's t-test of ``mean(a) = mean(b)`` (NaN when both samples
    are constant)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.std() == 0 and b.std() == 0:
        return 0.0 if a.mean() != b.mean() else 1.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def image_difference(top: dict, other: dict, seed: int = 0) -> dict:
    """Test-error difference ``top − other`` paired over test images: a bootstrap over the
    images (the same images for both widths), the mean over seeds of each.

    Args:
        top, other: entries of one arm's ``widths`` (their ``test_correct`` ``(S, N)``).

    Returns:
        ``{"difference", "ci95_low", "ci95_high", "p"}`` on the error scale.
    """
    from hw1.intervals import bootstrap_accuracy_difference

    b = bootstrap_accuracy_difference(other["test_correct"], top["test_correct"], seed=seed)
    # error(top) − error(other) = accuracy(other) − accuracy(top)
    return {"difference": b["difference"], "ci95_low": b["ci95_low"],
            "ci95_high": b["ci95_high"], "p": b["p"]}


def peak(results: dict, key: str = "test_error", epoch: int | None = None) -> list[dict]:
    """Locate the peak of ``key`` (mean over seeds) that follows a descent.

    Candidates are the interior local maxima of the mean curve over widths (a mean at least
    as high as both neighbours' means). For each, the classical optimum is the lowest mean
    among all smaller widths; the peak is the candidate that rises most above its optimum.
    There is none when the curve has no interior local maximum. Both widths are chosen after
    looking at the means, so the Welch intervals below (which ignore that selection) are
    optimistic.

    Args:
        results: one arm of :func:`run`.
        key: ``test_error``, ``test_loss``, ...; at the end of training, or
        epoch: at this recorded epoch.

    Returns:
        Two rows, each a difference with its 95% Welch t-interval and p-value: peak minus
        classical optimum, and peak minus the largest width (``minus width``); with the
        peak's parameters as a multiple of n·K. Empty when there is no peak.
    """
    widths = results["widths"]
    means = np.array([_column(e, key, epoch).mean() for e in widths])
    choice, rise = None, 0.0
    for top in range(1, len(widths) - 1):
        left = int(np.argmin(means[:top]))
        if (means[top] >= means[top - 1] and means[top] >= means[top + 1]
                and means[top] - means[left] > rise):
            choice, rise = (left, top), means[top] - means[left]
    if choice is None:
        return []
    best, top = choice
    rows = []
    for other, name in ((best, "classical optimum"), (len(widths) - 1, "largest width")):
        a, b = _column(widths[top], key, epoch), _column(widths[other], key, epoch)
        rows.append({"quantity": key, "epoch": epoch or results.get("epochs"),
                     "peak width": widths[top]["width"], "peak params": widths[top]["n_params"],
                     "peak params / nK": round(widths[top]["n_params"] / results["threshold"], 3),
                     "minus": f"{name} (width {widths[other]['width']})",
                     "minus width": widths[other]["width"],
                     **welch_difference(a, b), "p": welch_p(a, b)})
    return rows


def peak_table(results: dict, images: bool = True):
    """The test-error and test-loss peaks at the end of training, each minus the classical
    optimum and minus the largest width, and the largest width minus the classical optimum:
    each difference with its 95% Welch interval over seeds, Holm-adjusted over the table's
    rows; test-error rows also paired over test images (a bootstrap over images, Holm over
    those rows).

    Args:
        results: one arm of :func:`run`.
        images: whether to add the bootstrap over test images.

    Returns:
        A DataFrame, three rows per quantity (one row saying "none" if it has no peak).
    """
    from hw1.intervals import holm
    from hw1.report import diff, num, table

    widths = results["widths"]
    by_width = {e["width"]: e for e in widths}
    out, welch_ps, image_ps = [], [], []
    for key in ("test_error", "test_loss"):
        rows = peak(results, key)
        if not rows:
            out.append({"quantity": key.replace("_", " "), "peak width": "none"})
            continue
        best = rows[0]["minus width"]
        pairs = [(rows[0]["peak width"], r["minus width"], f"peak − {r['minus']}")
                 for r in rows]
        pairs.append((widths[-1]["width"], best, f"width {widths[-1]['width']} − width {best}"))
        for top, other, label in pairs:
            a, b = _column(by_width[top], key), _column(by_width[other], key)
            w = welch_difference(a, b)
            row = {"quantity": key.replace("_", " "), "peak width": rows[0]["peak width"],
                   "peak params / n·K": rows[0]["peak params"] / results["threshold"],
                   "difference": label,
                   "over seeds [95% CI]": diff(w["difference"], w["ci95_low"], w["ci95_high"]),
                   "_p": welch_p(a, b)}
            if images and key == "test_error":
                im = image_difference(by_width[top], by_width[other])
                row["over test images [95% CI]"] = diff(im["difference"], im["ci95_low"],
                                                        im["ci95_high"])
                row["_pi"] = im["p"]
                image_ps.append(im["p"])
            welch_ps.append(row["_p"])
            out.append(row)
    adj_w = iter(holm(welch_ps)) if welch_ps else iter(())
    adj_i = iter(holm(image_ps)) if image_ps else iter(())
    for row in out:
        if "_p" in row:
            row["Holm p (seeds)"] = num(next(adj_w))
            del row["_p"]
        if "_pi" in row:
            row["Holm p (images)"] = p_text(next(adj_i))
            del row["_pi"]
    return table(out)


def error_by_epoch(results: dict, key: str = "test_error",
                   shown: tuple[int, ...] = (2, 6, 20, 24, 30, 40, 50, 400)):
    """The mean of ``key`` over seeds, one row per recorded epoch and one column per width
    (the budget's effect, from the stored histories). Every width goes to a CSV file; the
    displayed table keeps the widths ``shown`` when there are more than eight widths.

    Args:
        results: one arm of :func:`run`.
        key: ``test_error`` or ``train_error`` (on the noisy labels).
        shown: the widths displayed when there are more than eight.

    Returns:
        A DataFrame with columns ``epoch``, ``width 2``, ``width 6``, ...
    """
    from hw1.report import long_table

    widths = [e["width"] for e in results["widths"]]
    rows = [{"epoch": ep, **{f"width {e['width']}": float(_column(e, key, ep).mean())
                             for e in results["widths"]}}
            for ep in recorded_epochs(results)]
    out = long_table(rows, f"double_descent_{key}_by_epoch", show=len(rows))
    if len(widths) > 8:
        keep = [w for w in widths if w in shown]
        print(f"{len(keep)} of {len(widths)} widths shown; the file holds all of them")
        out = out[["epoch"] + [f"width {w}" for w in keep]]
    return out


def peaks_over_epochs(results: dict):
    """At every recorded epoch: the test-error peak and classical optimum found by
    :func:`peak` and the rise between them with its 95% Welch interval and Holm-adjusted
    p-value over the table's rows (a row saying "none" when the curve has no peak then).

    Args:
        results: one arm of :func:`run`.

    Returns:
        A DataFrame, one row per recorded epoch.
    """
    from hw1.intervals import holm
    from hw1.report import diff, num, table

    out, ps = [], []
    for ep in recorded_epochs(results):
        rows = peak(results, "test_error", ep)
        if not rows:
            out.append({"epoch": ep, "peak width": "none"})
            continue
        r = rows[0]
        ps.append(r["p"])
        out.append({"epoch": ep, "peak width": str(r["peak width"]),
                    "peak params / n·K": r["peak params"] / results["threshold"],
                    "classical optimum width": str(r["minus width"]),
                    "rise above it [95% CI]": diff(r["difference"], r["ci95_low"],
                                                   r["ci95_high"]), "_p": r["p"]})
    adjusted = iter(holm(ps)) if ps else iter(())
    for row in out:
        if "_p" in row:
            row["Holm p"] = num(next(adjusted))
            del row["_p"]
    return table(out)


def clean_control_table(results: dict):
    """The clean-label control beside the noisy main arm at the clean arm's widths (same
    seeds, initializations and batch orders): test error of each, their difference (noisy −
    clean, paired over seeds: 95% t interval), and the clean models' train error; each at
    the end of training.

    Args:
        results: the whole result of :func:`run`.

    Returns:
        A DataFrame, one row per clean width.
    """
    from hw1.report import ci, paired, table

    noisy = {e["width"]: e for e in results["widths"]}
    out = []
    for e in results["clean"]["widths"]:
        m = noisy[e["width"]]
        a, b = _column(m, "test_error"), _column(e, "test_error")
        d = paired(a, b)
        out.append({"width": e["width"], "params / n·K": e["n_params"] / results["threshold"],
                    "test error, noisy labels": ci(a), "test error, clean labels": ci(b),
                    "noisy − clean [95% CI]": d["difference [95% CI]"],
                    "train error, clean": ci(_column(e, "train_error"))})
    return table(out)


def sizes_table(results: dict):
    """For each training-set size (main and small-n arms, same noise level and budget): n,
    n·K, the test-error peak (width, parameters, multiple of that n·K, rise above the
    classical optimum with its 95% Welch interval over seeds, selected after looking) and
    the first width meeting the robust interpolation criterion.

    Args:
        results: the whole result of :func:`run`.

    Returns:
        A DataFrame, one row per training-set size.
    """
    from hw1.report import diff, table

    out = []
    for arm in (results["small_n"], results):
        rows = peak(arm, "test_error")
        interp = robust_interpolation(arm)
        row = {"n": arm["n_train"], "n·K": arm["threshold"],
               "labels changed": arm["labels_changed"],
               "widths": f"{arm['widths'][0]['width']}–{arm['widths'][-1]['width']}"}
        if rows:
            r = rows[0]
            row |= {"test-error peak width": r["peak width"], "peak params": r["peak params"],
                    "peak params / n·K": r["peak params"] / arm["threshold"],
                    "classical optimum width": str(r["minus width"]),
                    "rise [95% CI]": diff(r["difference"], r["ci95_low"], r["ci95_high"])}
        else:
            row["test-error peak width"] = "none"
        row |= ({"first interpolating width": interp["width"],
                 "its params / n·K": interp["n_params"] / arm["threshold"]}
                if interp is not None else {"first interpolating width": "none"})
        out.append(row)
    return table(out)


def _confirm_pairs(results: dict) -> list[tuple[dict, dict, str]]:
    arm = results["confirm"]
    by_width = {e["width"]: e for e in arm["widths"]}
    first, *rest = results["confirm_widths"]
    return [(by_width[first], by_width[w], "primary" if i == 0 else "secondary")
            for i, w in enumerate(rest)]


def confirmation(results: dict) -> list[dict]:
    """The pre-registered comparisons on the confirmation arm (fresh seeds, second noise
    draw): test error of the first confirmation width minus each other one, over seeds
    (Welch) and paired over test images (bootstrap), each family Holm-adjusted over the
    comparisons. Rows are dicts of numbers (see :func:`confirmation_table`)."""
    from hw1.intervals import holm

    out = []
    for top, other, role in _confirm_pairs(results):
        a, b = _column(top, "test_error"), _column(other, "test_error")
        out.append({"comparison": f"width {top['width']} − width {other['width']}",
                    "role": role, "top": a, "other": b, "welch": welch_difference(a, b),
                    "p": welch_p(a, b), "images": image_difference(top, other)})
    for key, adj in (("p", holm([r["p"] for r in out])),
                     ("p_images", holm([r["images"]["p"] for r in out]))):
        for r, p in zip(out, adj, strict=True):
            r[f"holm_{key}"] = float(p)
    return out


def confirmation_table(results: dict):
    """:func:`confirmation` as a display table.

    Args:
        results: the whole result of :func:`run`.

    Returns:
        A DataFrame, one row per pre-registered comparison.
    """
    from hw1.report import ci, diff, num, table

    out = []
    for r in confirmation(results):
        w, im = r["welch"], r["images"]
        out.append({"comparison": r["comparison"], "role": r["role"],
                    "test error (first)": ci(r["top"]), "test error (second)": ci(r["other"]),
                    "over seeds [95% CI]": diff(w["difference"], w["ci95_low"],
                                                w["ci95_high"]),
                    "Holm p (seeds)": num(r["holm_p"]),
                    "over test images [95% CI]": diff(im["difference"], im["ci95_low"],
                                                      im["ci95_high"]),
                    "Holm p (images)": p_text(r["holm_p_images"])})
    return table(out)


def confirmation_mcnemar_table(results: dict):
    """Exact McNemar tests per confirmation seed (the same seed's models at the two widths of
    each pre-registered comparison, on every test image), Holm-adjusted over the table.
    ``b``: images only the first width gets right; ``c``: only the second.

    Args:
        results: the whole result of :func:`run`.

    Returns:
        A DataFrame, one row per (comparison, seed).
    """
    from hw1.intervals import holm, mcnemar
    from hw1.report import num, table

    out, ps = [], []
    seeds = results["confirm"]["seeds"]
    for top, other, role in _confirm_pairs(results):
        for s, (ca, cb) in enumerate(zip(top["test_correct"], other["test_correct"],
                                         strict=True)):
            m = mcnemar(ca, cb)
            ps.append(m["p"])
            out.append({"comparison": f"width {top['width']} − width {other['width']}",
                        "role": role, "seed": seeds[s],
                        "error difference": float(cb.mean() - ca.mean()),
                        "b (first right only)": int(m["b"]),
                        "c (second right only)": int(m["c"]), "p": float(m["p"])})
    for row, p in zip(out, holm(ps), strict=True):
        row["Holm p"] = num(float(p))
    return table(out)
