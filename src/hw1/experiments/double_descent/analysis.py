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


TOLERANCES = (0.02, 0.01, TRAIN_ERROR_TOL)
"""Train-error cutoffs of :func:`tolerance_table`: how the first fitting width moves with the
cutoff."""


def plain_pm(values, digits: int = 3) -> str:
    """Mean ± 95% t half-width over ``values`` ``(S,)`` in plain decimal notation: the mean
    to ``digits`` significant digits, the half-width to the same decimal places (one notation
    for a whole column: ``0.000728 ± 0.000062``, never ``6.2e-5``)."""
    from hw1.intervals import t_interval

    mean, half = t_interval(values)
    half = 0.0 if np.isnan(half) else float(half)
    if mean == 0:
        decimals = max(digits - 1 - int(np.floor(np.log10(half))), 0) if half > 0 else 0
    else:
        decimals = max(digits - 1 - int(np.floor(np.log10(abs(mean)))), 0)
    return f"{mean:.{decimals}f} ± {half:.{decimals}f}"


def percent_pm(values, decimals: int = 3) -> str:
    """Mean ± 95% t half-width over ``values`` ``(S,)`` (fractions) as percentages with a
    fixed number of ``decimals`` (one notation per column, and digits enough to tell 99.95%
    from 100%: ``99.953 ± 0.201``)."""
    from hw1.intervals import t_interval

    mean, half = t_interval(values)
    half = 0.0 if np.isnan(half) else float(half)
    return f"{100 * mean:.{decimals}f} ± {100 * half:.{decimals}f}"


def percent(value: float, decimals: int = 3) -> str:
    """A fraction as a percentage with a fixed number of ``decimals``."""
    return f"{100 * float(value):.{decimals}f}"


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


def last_records(entry: dict, key: str, k: int = LAST_RECORDS, how: str = "mean"
                 ) -> np.ndarray:
    """Per seed ``(S,)``: the mean (or, with ``how="median"``, the median) of ``key`` (a
    history key of :func:`_column`) over the last ``k`` recorded epochs. The median ignores a
    spike at a single record."""
    if how not in ("mean", "median"):
        raise ValueError(f"how must be 'mean' or 'median', got {how!r}")
    epochs = [ep for ep in entry["rows"][0]["history"]["epoch"] if ep > 0][-k:]
    values = [_column(entry, key, ep) for ep in epochs]
    return np.mean(values, axis=0) if how == "mean" else np.median(values, axis=0)


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


def fits(tol: float, k: int = LAST_RECORDS, how: str = "mean"):
    """The test ``entry -> bool``: train error on the noisy labels at most ``tol`` in every
    seed, aggregated over the last ``k`` records by ``how`` (``"mean"``, ``"median"``; or
    ``"last"``: the last record alone)."""
    if how == "last":
        return lambda e: bool(np.all(_column(e, "train_error") <= tol))
    return lambda e: bool(np.all(last_records(e, "train_error", k, how) <= tol))


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


def tolerance_table(results: dict, tolerances: tuple[float, ...] = TOLERANCES,
                    k: int = LAST_RECORDS):
    """How the first fitting width moves with the train-error cutoff ε and with how the last
    records are combined: per ε, the first width whose train error (noisy labels) is at most ε
    in every seed, by the mean of the last ``k`` records (the notebook's criterion), by their
    median (blind to a spike at one record) and at the last record alone; each with its
    parameters as a multiple of n·K and whether every larger width passes too. Only the
    stored records are used; the budget is the arm's.

    Args:
        results: one arm of :func:`run`.
        tolerances: the cutoffs ε (fractions of the training set).
        k: records combined.

    Returns:
        A DataFrame, one row per (ε, way of combining the records).
    """
    from hw1.report import num, table

    out = []
    for tol in tolerances:
        for how, name in (("mean", f"mean of last {k} records"),
                          ("median", f"median of last {k} records"), ("last", "last record")):
            e, stays = first_width(results, fits(tol, k, how))
            out.append({"ε": f"{tol:.1%}", "images of n": f"{tol * results['n_train']:g}",
                        "train error taken as": name,
                        "first width (every seed)": "none" if e is None else str(e["width"]),
                        "params / n·K": "" if e is None
                        else num(e["n_params"] / results["threshold"]),
                        "holds at every larger width": "" if e is None
                        else ("yes" if stays else "no")})
    return table(out)


def summary(results: dict) -> list[dict]:
    """Per width: parameters (and as a multiple of n·K), train error on the noisy labels and
    the changed labels fitted (in %, 3 decimals, so that a value near 0 or 100% shows), test
    error and loss, train loss (mean ± 95% t half-width over seeds, as text, one notation per
    column), all at the end of training."""
    from hw1.report import ci

    return [{"width": e["width"], "params": e["n_params"],
             "params / n·K": e["n_params"] / results["threshold"],
             "train error, % (noisy labels)": percent_pm(_column(e, "train_error")),
             "changed labels fitted, %": percent_pm(_column(e, "noisy_labels_fitted")),
             "test error": ci(_column(e, "test_error")),
             "train loss": plain_pm(_column(e, "train_loss")),
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
    """Per width, averaged over the last ``k`` records, in % with 3 decimals (one notation
    per column, digits enough near the criteria): train error on the noisy labels (mean ±
    95% t half-width over seeds, and the largest seed's value), the changed labels fitted
    (and the smallest seed's value), the unchanged labels fitted; every width to
    ``tables/double_descent_interpolation.csv``.

    Returns:
        A DataFrame, one row per shown width.
    """
    from hw1.report import long_table

    rows = []
    for e in results["widths"]:
        train = last_records(e, "train_error", k)
        changed = last_records(e, "changed_fitted", k)
        rows.append({"width": e["width"], "params / n·K": e["n_params"] / results["threshold"],
                     f"train error, %, last {k} records": percent_pm(train),
                     "largest seed": percent(train.max()),
                     "changed labels fitted, %": percent_pm(changed),
                     "smallest seed": percent(changed.min()),
                     "unchanged labels fitted, %": percent_pm(
                         last_records(e, "unchanged_fitted", k))})
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
    test-loss peaks (:func:`peak`; "none resolved", with the candidate printed, when the 95%
    Welch interval of its rise above the classical optimum includes 0), each fitting criterion
    (:func:`thresholds`), and n·K.

    Args:
        results: one arm of :func:`run`.

    Returns:
        A DataFrame with columns ``where``, ``width``, ``params``, ``params / n·K``,
        ``holds at every larger width``.
    """
    from hw1.report import diff, table

    by_width = {e["width"]: e for e in results["widths"]}
    out = []
    for key in ("test_error", "test_loss"):
        rows = peak(results, key)
        name = f"{key.replace('_', ' ')} peak"
        if rows and rows[0]["ci95_low"] <= 0:
            r = rows[0]
            print(f"{name}: none resolved; the best candidate, width {r['peak width']}, rises "
                  f"{diff(r['difference'], r['ci95_low'], r['ci95_high'])} above the "
                  f"classical optimum (width {r['minus width']}), an interval that includes 0")
            out.append({"where": name, "width": "none resolved", "params": "",
                        "params / n·K": ""})
            continue
        out.append(_landmark(results, name, by_width[rows[0]["peak width"]] if rows else None))
    out += thresholds(results)
    out.append({"where": f"n·K = {results['n_train']:,} images × {results['num_classes']} "
                         "classes", "width": "", "params": results["threshold"],
                "params / n·K": 1.0})
    return table(out)


IMAGES_CI = "over test images, these models [95% CI]"
"""Column of a bootstrap over test images: it covers test-set sampling only, conditional on
the trained models (not the spread over initializations or noise draws)."""

IMAGES_P = "Holm p (test images, these models)"
"""Column of the Holm-adjusted p-value of :data:`IMAGES_CI`."""


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
                row[IMAGES_CI] = diff(im["difference"], im["ci95_low"], im["ci95_high"])
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
            row[IMAGES_P] = p_text(next(adj_i))
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


def early_stopping_table(results: dict,
                         shown: tuple[int, ...] = (2, 6, 10, 16, 20, 24, 30, 40, 50, 100, 200,
                                                   400)):
    """What stopping early would have given, from the stored records: per width, the test
    error (mean ± 95% t half-width over seeds) at the first record, at the record where the
    mean over seeds is lowest (chosen on the test set itself, so an optimistic oracle), and at
    the end; and first record minus end, paired over seeds (95% t). Prints the lowest mean
    test error at the end over all widths and the widths whose first-record mean is below it.
    Every width goes to ``tables/double_descent_early_stopping.csv``.

    Args:
        results: one arm of :func:`run`.
        shown: the widths displayed when there are more than a shown table holds.

    Returns:
        A DataFrame, one row per shown width.
    """
    from hw1.report import ci, long_table, num, paired

    epochs = recorded_epochs(results)
    first, last = epochs[0], epochs[-1]
    rows, early, end = [], {}, {}
    for e in results["widths"]:
        curve = [_column(e, "test_error", ep) for ep in epochs]
        best = int(np.argmin([c.mean() for c in curve]))
        early[e["width"]], end[e["width"]] = curve[0].mean(), curve[-1].mean()
        rows.append({"width": e["width"], "params / n·K": e["n_params"] / results["threshold"],
                     f"test error, epoch {first}": ci(curve[0]),
                     "lowest record (epoch)": epochs[best],
                     "test error there": ci(curve[best]),
                     f"test error, epoch {last}": ci(curve[-1]),
                     f"epoch {first} − epoch {last} [95% CI]":
                         paired(curve[0], curve[-1])["difference [95% CI]"]})
    best_end = min(end, key=end.get)
    widths = [e["width"] for e in results["widths"]]
    below = [w for w in widths if early[w] < end[best_end]]
    tail = next((w for i, w in enumerate(widths) if all(early[v] < end[best_end]
                                                        for v in widths[i:])), None)
    print(f"lowest mean test error at epoch {last}: {num(end[best_end])} (width {best_end}); "
          f"at epoch {first} {len(below)} of {len(widths)} widths are below it"
          + (f", every width from {tail} on ({num(min(early[w] for w in widths if w >= tail))}"
             f" to {num(max(early[w] for w in widths if w >= tail))})" if tail else ""))
    return long_table(rows, "double_descent_early_stopping", keep=_shown(rows, shown))


def peaks_over_epochs(results: dict):
    """At every recorded epoch: the test-error peak and classical optimum found by
    :func:`peak` and the rise between them with its 95% Welch interval (not adjusted for the
    rows) and Holm-adjusted p-value over the table's rows (a row saying "none" when the curve
    has no peak then).

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
                    "rise above it [unadjusted 95% CI]": diff(r["difference"], r["ci95_low"],
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
    n·K, the best peak candidate of :func:`peak` (width, multiple of that n·K, the classical
    optimum: the lowest mean test error among the smaller widths, and the rise of the
    candidate above it with its 95% Welch interval over seeds, selected after looking), the
    test-error peak (the candidate, or "none resolved" when the rise's interval includes 0)
    and the first width meeting the robust interpolation criterion.

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
            row |= {"best candidate width": r["peak width"],
                    "its params / n·K": r["peak params"] / arm["threshold"],
                    "classical optimum width": str(r["minus width"]),
                    "rise [95% CI]": diff(r["difference"], r["ci95_low"], r["ci95_high"]),
                    "test-error peak": (str(r["peak width"]) if r["ci95_low"] > 0
                                        else "none resolved")}
        else:
            row |= {"best candidate width": "none", "test-error peak": "none"}
        row |= ({"first interpolating width": interp["width"],
                 "interpolating params / n·K": interp["n_params"] / arm["threshold"]}
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
                    IMAGES_CI: diff(im["difference"], im["ci95_low"], im["ci95_high"]),
                    IMAGES_P: p_text(r["holm_p_images"])})
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
