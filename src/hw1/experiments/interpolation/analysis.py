"""Notebook 09's tables and statistics over the stored endpoints and curves (what the
Findings quote)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from hw1.intervals import bootstrap_accuracy_difference, holm, welch_difference

from .run import ALIGNED, PAIRS

N_BOOT = 2000
"""Bootstrap replicates over test images (a raw bootstrap p resolves down to 2 / N_BOOT)."""


def paired_difference(a, b) -> dict[str, float | bool]:
    """``mean(a − b)`` over pairs ``(a[i], b[i])`` ``(n,)`` with its 95% paired t-interval
    (``scipy.stats.ttest_rel``), keyed like :func:`hw1.intervals.welch_difference`, with the
    paired t-test's two-sided ``p``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    test = stats.ttest_rel(a, b)
    low, high = test.confidence_interval(0.95)
    return {"difference": float((a - b).mean()), "ci95_low": float(low),
            "ci95_high": float(high), "excludes_0": bool(low > 0 or high < 0),
            "p": float(test.pvalue)}


def _welch(a, b) -> dict[str, float | bool]:
    """:func:`hw1.intervals.welch_difference` with Welch's two-sided p."""
    return {**welch_difference(a, b),
            "p": float(stats.ttest_ind(a, b, equal_var=False).pvalue)}


def _label(setting: dict) -> str:
    return f"batch {setting['batch_size']}, lr {setting['lr']:g}"


def _kind_label(kind: str) -> str:
    """A plain name for an endpoint kind (``"large_batch_independent"`` → ``"large batch,
    independent init"``; the independent base endpoint is the control).

    Args:
        kind: a key of ``results["endpoints"]``.

    Returns:
        The display name.
    """
    if kind == "base_independent":
        return "control (base, independent init)"
    if kind == "base":
        return "base"
    name = kind.removesuffix("_independent").replace("_", " ")
    return f"{name}, {'independent' if kind.endswith('_independent') else 'same'} init"


def endpoint_table(results: dict):
    """Per endpoint kind: optimizer steps (range over seeds), how many seeds met the
    criterion, the final train and test loss, test accuracy, generalization gap (test −
    train loss) and weight norm ‖θ‖₂, each mean ± 95% t half-width over seeds."""
    from hw1.report import ci, table

    rows = []
    for kind, e in results["endpoints"].items():
        r = e["rows"]
        col = {k: [x[k] for x in r] for k in r[0]}
        rows.append({"endpoint": _kind_label(kind), "setting": _label(e["setting"]),
                     "seeds": ",".join(map(str, col["seed"])),
                     "steps": f"{min(col['steps'])}–{max(col['steps'])}",
                     "criterion met": f"{sum(bool(v) for v in col['reached'])}/{len(r)}",
                     "train loss": ci(col["train_loss"]), "test loss": ci(col["test_loss"]),
                     "test accuracy": ci(col["test_acc"]),
                     "test − train loss": ci(np.subtract(col["test_loss"], col["train_loss"])),
                     "‖θ‖₂": ci(col["weight_norm"])})
    return table(rows)


def _barriers(results: dict, pair: str) -> np.ndarray:
    """Per seed: max over α in [0, 1] of the train loss above the chord between its ends."""
    alphas = np.asarray(results["alphas"])
    inside = (alphas >= 0) & (alphas <= 1)
    i0, i1 = int(np.argmin(np.abs(alphas))), int(np.argmin(np.abs(alphas - 1)))
    out = []
    for c in results["curves"][pair]:
        loss = np.asarray(c["train_loss"])
        out.append(float(np.max((loss - (loss[i0] + (loss[i1] - loss[i0]) * alphas))[inside])))
    return np.array(out)


def barrier_differences(results: dict):
    """Barrier of each independent-init pair minus its same-init pair, and of the control
    pair (same settings, independent seed: initialization and batch order) minus each
    same-init pair, with 95% paired t-intervals over seeds (:func:`paired_difference`):
    every pair of seed s starts from the same base endpoint θ₀ of seed s. ``Holm p``: the
    paired t-tests' p-values, Holm-adjusted over the table's four rows."""
    from hw1.report import diff, num, table

    def cells(a, b) -> tuple[dict[str, str], float]:
        d = paired_difference(a, b)
        return ({"difference [95% paired CI]": diff(d["difference"], d["ci95_low"],
                                                    d["ci95_high"]),
                 "CI excludes 0": "yes" if d["excludes_0"] else "no"}, d["p"])

    rows, ps = [], []
    for factor in ("batch size", "learning rate"):
        same, indep = (_barriers(results, f"{factor}, {k} init") for k in ("same",
                                                                             "independent"))
        c, p = cells(indep, same)
        rows.append({"comparison": f"{factor}: independent − same init", **c})
        ps.append(p)
    control = _barriers(results, "control: same settings, independent init")
    for factor in ("batch size", "learning rate"):
        same = _barriers(results, f"{factor}, same init")
        c, p = cells(control, same)
        rows.append({"comparison": f"control − {factor}, same init", **c})
        ps.append(p)
    for row, p in zip(rows, holm(ps), strict=True):
        row["Holm p"] = num(p)
    return table(rows)


def alignment_table(results: dict):
    """Weight matching (Ainsworth et al. 2023): per independent-init pair, the train-loss
    barrier and the distance ‖θ₁ − θ₀‖₂ before and after θ₁'s hidden units are permuted to
    match θ₀'s (the same function, so the endpoints do not change), mean ± 95% t
    half-width over seeds; the barrier's change (after − before, 95% paired t-interval) and
    its paired-t p, Holm-adjusted over the table's rows; and the matched barrier minus the
    same-init pair's (for the two changed settings), its paired-t p Holm-adjusted over those
    two rows. A last column gives the matched barrier over the base endpoint's train loss
    (per seed, then the mean ± 95% t half-width)."""
    from hw1.report import ci, diff, num, table

    base_loss = np.array([r["train_loss"] for r in results["endpoints"]["base"]["rows"]])
    rows, ps, same_rows, same_ps = [], [], [], []
    for pair in PAIRS:
        if "independent" not in pair:
            continue
        before, after = _barriers(results, pair), _barriers(results, pair + ALIGNED)
        d = paired_difference(after, before)
        ps.append(d["p"])
        row = {"pair": pair, "barrier": ci(before), "barrier, units matched": ci(after),
               "change [95% paired CI]": diff(d["difference"], d["ci95_low"], d["ci95_high"]),
               "‖θ₁ − θ₀‖₂": ci([c["distance"] for c in results["curves"][pair]]),
               "‖θ₁ − θ₀‖₂, matched": ci([c["distance"]
                                         for c in results["curves"][pair + ALIGNED]]),
               "matched barrier / base train loss": ci(after / base_loss)}
        factor = pair.split(",")[0]
        if factor in ("batch size", "learning rate"):
            same = paired_difference(after, _barriers(results, f"{factor}, same init"))
            row["matched − same init [95% paired CI]"] = diff(
                same["difference"], same["ci95_low"], same["ci95_high"])
            same_rows.append(row)
            same_ps.append(same["p"])
        else:
            row["matched − same init [95% paired CI]"] = "—"
            row["matched − same init: Holm p"] = "—"
        rows.append(row)
    for row, p in zip(rows, holm(ps), strict=True):
        row["change: Holm p"] = num(p)
    for row, p in zip(same_rows, holm(same_ps), strict=True):
        row["matched − same init: Holm p"] = num(p)
    return table(rows)


def pair_table(results: dict):
    """Per pair: the distance ‖θ₁ − θ₀‖₂, the train-loss barrier on the segment (max over the
    grid's α in [0, 1] of L(α) minus the straight line between L(0) and L(1): a lower bound
    set by the grid), the worst test accuracy on [0, 1] (mean of per-seed minima) and the
    train loss at α = 1 (at α = 0 every pair starts from the base endpoint, whose train loss
    :func:`endpoint_table` shows), mean ± 95% t half-width over seeds."""
    from hw1.report import ci, table

    alphas = np.asarray(results["alphas"])
    inside = (alphas >= 0) & (alphas <= 1)
    i1 = int(np.argmin(np.abs(alphas - 1)))
    rows = []
    for pair, per_seed in results["curves"].items():
        if pair.endswith(ALIGNED):
            continue  # the alignment table shows these
        worst_acc = [float(np.min(np.asarray(c["test_acc"])[inside])) for c in per_seed]
        rows.append({"pair": pair, "‖θ₁ − θ₀‖₂": ci([c["distance"] for c in per_seed]),
                     "train-loss barrier": ci(_barriers(results, pair)),
                     "min test accuracy on [0, 1]": ci(worst_acc),
                     "train loss at α=1": ci([c["train_loss"][i1] for c in per_seed])})
    return table(rows)


def outer_loss_table(results: dict):
    """Per pair: the train loss at the ends of the whole α grid (``alpha_range``: α = −1 and
    α = 2 in both profiles), mean ± 95% t half-width over seeds and the lowest–highest seed,
    which shows how lopsided the curve is outside the segment."""
    from hw1.report import ci, num, table

    alphas = np.asarray(results["alphas"])
    rows = []
    for pair in PAIRS:
        per_seed = results["curves"][pair]
        row = {"pair": pair}
        for i in (0, len(alphas) - 1):
            at = f"α={alphas[i]:g}".replace("-", "−")
            values = [c["train_loss"][i] for c in per_seed]
            row[f"train loss at {at}"] = ci(values)
            row[f"{at}: lowest–highest seed"] = f"{num(min(values))}–{num(max(values))}"
        rows.append(row)
    return table(rows)


def _line_increase(results: dict, kind: str, t_abs: float, split: str = "train") -> np.ndarray:
    """Per seed: mean over ±t_abs of L(θ + t d) − L(θ) along the filter-normalized line."""
    t = np.asarray(results["t"])
    centre = int(np.argmin(np.abs(t)))
    sides = [int(np.argmin(np.abs(t - s * t_abs))) for s in (-1, 1)]
    return np.array([np.mean([c[f"{split}_loss"][i] for i in sides]) - c[f"{split}_loss"][centre]
                     for c in results["lines"][kind]])


def geometric_cell(values) -> str:
    """Geometric mean of positive ``values`` ``(n,)`` (seeds) with the 95% t interval of
    their log10 mapped back: ``"0.256 [0.190, 0.345]"`` (the figure's line and band)."""
    from hw1.intervals import t_interval
    from hw1.report import num

    logs = np.log10(np.asarray(values, dtype=float))
    mean, half = t_interval(logs)
    return f"{num(10 ** mean)} [{num(10 ** (mean - half))}, {num(10 ** (mean + half))}]"


def _loss_multiple(results: dict, kind: str, t_abs: float) -> np.ndarray:
    """Per seed: the train loss at |t| = ``t_abs`` (mean of both sides) over the endpoint's."""
    t = np.asarray(results["t"])
    centre = int(np.argmin(np.abs(t)))
    sides = [int(np.argmin(np.abs(t - s * t_abs))) for s in (-1, 1)]
    return np.array([np.mean([c["train_loss"][i] for i in sides]) / c["train_loss"][centre]
                     for c in results["lines"][kind]])


def line_table(results: dict, t_values: tuple[float, ...] = (0.25, 0.5)):
    """Per endpoint kind and |t| in ``t_values``: the train-loss increase ΔL along its
    filter-normalized directions (mean of both sides), as the geometric mean over seeds with
    the 95% t interval of log10 ΔL mapped back (what the figure draws), and the train loss
    there as a multiple of the endpoint's own (geometric mean [interval]), which says how
    far from the endpoint's neighbourhood the radius reaches."""
    from hw1.report import table

    return table([{"endpoint": _kind_label(kind), "setting": _label(e["setting"]),
                   **{f"ΔL_train at |t|={t:g}": geometric_cell(_line_increase(results, kind, t))
                      for t in t_values},
                   **{f"L_train(|t|={t:g}) / L_train(0)":
                      geometric_cell(_loss_multiple(results, kind, t)) for t in t_values}}
                  for kind, e in results["endpoints"].items()])


def flatness_radius_table(results: dict, t_values: tuple[float, ...] = (0.25, 0.5)):
    """The flatness ratio (ΔL_train of a large endpoint over the base's, 10 ** mean log10
    difference) at each |t| in ``t_values``: paired over seeds for the same-init endpoints,
    Welch for the independent ones; 95% intervals, unadjusted (descriptive: the tested
    comparison is :func:`differences_from_base`'s, at |t| = 0.5)."""
    from hw1.report import num, table

    rows = []
    for other in ("large_batch", "large_lr"):
        for t_abs in t_values:
            row = {"change": f"{_label(results['endpoints'][other]['setting'])} − "
                             f"{_label(results['endpoints']['base']['setting'])}",
                   "|t|": f"{t_abs:g}"}
            for kind, compare, column in ((other, paired_difference, "same init (paired)"),
                                          (f"{other}_independent", _welch,
                                           "independent init (Welch)")):
                d = compare(_log_ratio(results, kind, t_abs), _log_ratio(results, "base", t_abs))
                row[f"ΔL_train ratio, {column}"] = (
                    f"×{num(10 ** d['difference'])} [{num(10 ** d['ci95_low'])}, "
                    f"{num(10 ** d['ci95_high'])}]")
            rows.append(row)
    return table(rows)


def _log_ratio(results: dict, kind: str, t_abs: float) -> np.ndarray:
    """Per seed: log10 of the filter-normalized train-loss increase at |t| = ``t_abs``."""
    return np.log10(_line_increase(results, kind, t_abs))


def differences_from_base(results: dict, t_abs: float = 0.5):
    """Each large-batch or large-lr endpoint against the base endpoint: paired over seeds for
    the same-init partners (they share the base's initialization and directions;
    :func:`paired_difference`), Welch for the independent ones. Rows: the flatness ratio
    (ΔL_train at |t| = ``t_abs`` over the base's, from the mean log10 difference: ``×r
    [low, high]``), the weight norm, the test accuracy and loss (on the 2,000-image
    subset) and the test accuracy on the whole test split (difference with a 95% bootstrap
    interval over images, seeds averaged). Every cell but the flatness rows' carries its
    p-value Holm-adjusted over the table's other cells; the same-init flatness ratio of the
    batch size is the declared primary comparison (unadjusted). Intervals are unadjusted;
    only the p-values are Holm-adjusted. A bootstrap p of 0 is shown as below the honest
    floor, the number of tests times the raw resolution 2 / ``N_BOOT``."""
    from hw1.report import diff, num, table

    base = results["endpoints"]["base"]
    quantities = {f"ΔL_train ratio at |t|={t_abs:g}": None, "‖θ‖₂": "weight_norm",
                  "test accuracy": "test_acc", "test loss": "test_loss",
                  "test accuracy, full test set (over images)": "images"}

    def values(kind: str, key: str | None) -> np.ndarray:
        if key is None:
            return _log_ratio(results, kind, t_abs)
        return np.array([r[key] for r in results["endpoints"][kind]["rows"]])

    rows, cells = [], []
    for other in ("large_batch", "large_lr"):
        change = f"{_label(results['endpoints'][other]['setting'])} − {_label(base['setting'])}"
        for what, key in quantities.items():
            row = {"change": change, "quantity": what}
            for kind, compare, column in (
                    (other, paired_difference, "same init"),
                    (f"{other}_independent", _welch, "independent init")):
                if key == "images":
                    d = bootstrap_accuracy_difference(
                        results["endpoints"][kind]["full_test_correct"],
                        base["full_test_correct"], n_boot=N_BOOT)
                else:
                    d = compare(values(kind, key), values("base", key))
                if key is None:  # a ratio: 10 ** (mean log10 difference) with its interval
                    row[column] = (f"×{num(10 ** d['difference'])} [{num(10 ** d['ci95_low'])}"
                                   f", {num(10 ** d['ci95_high'])}]")
                    if not (other == "large_batch" and column == "same init"):
                        cells.append((row, column, d["p"]))
                    else:
                        row[column] += " (primary)"
                else:
                    row[column] = diff(d["difference"], d["ci95_low"], d["ci95_high"])
                    cells.append((row, column, d["p"]))
            rows.append(row)
    # a bootstrap p of 0 means below its resolution 2 / N_BOOT (raw); after Holm over m tests
    # the honest bound is m times that
    floor = len(cells) * 2 / N_BOOT
    for (row, column, _), p in zip(cells, holm([c[2] for c in cells]), strict=True):
        row[column] += f"; Holm p {num(p)}" if p > 0 else f"; Holm p < {floor:g}"
    return table(rows)


def summary(results: dict):
    """The endpoint table (the notebook prints the pair, line and difference tables too)."""
    return endpoint_table(results)


