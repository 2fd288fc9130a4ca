"""Tables and statistics of the function-simulation experiment: what the Findings quote."""

from __future__ import annotations

import numpy as np

from hw1.data import target_function


def success_threshold(r: dict, fraction: float) -> float:
    """The MSE below which a seed of this (function, depth) succeeds: ``fraction`` times the
    best constant predictor's training MSE."""
    return fraction * r["constant_mse"]


def _successes(r: dict, fraction: float) -> np.ndarray:
    """``(n_seeds,)`` bool: which evaluation seeds' finished MSE is below the threshold."""
    return np.array([f["loss"] for f in r["fits"]]) < success_threshold(r, fraction)


def _layers(depth: int) -> str:
    """``"1 hidden layer"``, ``"5 hidden layers"``."""
    return f"{depth} hidden layer{'s' * (depth > 1)}"


def _ending(reason: str) -> str:
    """How a Levenberg–Marquardt finish ended, in the notebook's words."""
    return {"converged": "plateau", "stalled": "stalled", "max_iter": "step cap"}[reason]


def _grouped(frame, groups: dict[str, list[str]]):
    """``frame`` with a two-level header: each column in ``groups[top]`` under ``top``, the
    others under an empty top level.

    Args:
        frame: a display table (:func:`hw1.report.table`).
        groups: top-level label -> the columns (in ``frame``) it spans.

    Returns:
        the same table with :class:`pandas.MultiIndex` columns.
    """
    import pandas as pd

    top = {c: t for t, cols in groups.items() for c in cols}
    frame = frame.copy()
    frame.columns = pd.MultiIndex.from_tuples(
        [(top.get(c, ""), c.split(": ", 1)[-1]) for c in frame.columns])
    return frame


def summary(results: dict, fraction: float):
    """Per function and depth: the chosen rate, the success probability over the evaluation
    seeds with its 95% Wilson interval (:func:`hw1.intervals.wilson`), the finished training
    MSE over seeds (median, min, max), how the finishes ended and the activation regions
    (mean ± 95% t-interval over seeds).

    Args:
        results: as returned by :func:`run`.
        fraction: the success threshold as a fraction of the best constant's MSE.

    Returns:
        a display DataFrame (:func:`hw1.report.table`), one row per (function, depth), with a
        two-level header.
    """
    from hw1.intervals import wilson
    from hw1.report import ci, num, table

    rows = []
    for function, by_depth in results.items():
        for depth, r in by_depth.items():
            final = np.array([f["loss"] for f in r["fits"]])
            endings = [_ending(f["reason"]) for f in r["fits"]]
            ok = _successes(r, fraction)
            low, high = wilson(int(ok.sum()), len(ok))
            rows.append({"target": target_function(function).formula,
                         "hidden layers": depth, "widths": r["widths"],
                         "chosen lr": r["best_lr"],
                         "success: MSE below": success_threshold(r, fraction),
                         "success: seeds": f"{int(ok.sum())} of {len(ok)}",
                         "success: probability [95% Wilson]":
                             f"{num(ok.mean())} [{num(low)}, {num(high)}]",
                         "final MSE: median": float(np.median(final)),
                         "final MSE: min": float(final.min()),
                         "final MSE: max": float(final.max()),
                         **{f"finish: {e}": endings.count(e)
                            for e in ("plateau", "stalled", "step cap")},
                         "activation regions (mean ± 95% CI)": ci(r["linear_pieces"])})
    n = len(r["seeds"])
    return _grouped(table(rows), {
        "success": ["success: MSE below", "success: seeds",
                    "success: probability [95% Wilson]"],
        f"final training MSE over {n} seeds": [
            "final MSE: median", "final MSE: min", "final MSE: max"],
        "finish ended in (seeds)": ["finish: plateau", "finish: stalled", "finish: step cap"]})


def depth_comparison(results: dict, fraction: float):
    """Per function and pair of depths (deeper minus shallower): the difference in success
    probability with Fisher's exact test, the Mann–Whitney U test of the finished MSEs
    (rank-based: robust to the bimodal losses) with the deeper model's probability of the
    lower loss, and the difference in mean activation regions (Welch); every p-value
    Holm-adjusted over the table's rows (:func:`hw1.intervals.holm`), per test. For the
    success probability that adjustment is secondary: the primary family is the deepest
    minus the shallowest depth per function, Holm over the functions (:func:`flip_check`).

    Args:
        results: as returned by :func:`run`.
        fraction: the success threshold as a fraction of the best constant's MSE.

    Returns:
        a display DataFrame, one row per (function, pair of depths), two-level header.
    """
    from scipy import stats

    from hw1.intervals import holm, welch_difference
    from hw1.report import diff, table

    rows, p = [], {"fisher": [], "mw": [], "welch": []}
    for function, by_depth in results.items():
        for deep, rd in by_depth.items():
            for shallow, rs in by_depth.items():
                if shallow >= deep:
                    continue
                ok_d, ok_s = _successes(rd, fraction), _successes(rs, fraction)
                loss_d = np.array([f["loss"] for f in rd["fits"]])
                loss_s = np.array([f["loss"] for f in rs["fits"]])
                p["fisher"].append(float(stats.fisher_exact(
                    [[ok_d.sum(), len(ok_d) - ok_d.sum()],
                     [ok_s.sum(), len(ok_s) - ok_s.sum()]]).pvalue))
                mw = stats.mannwhitneyu(loss_d, loss_s, alternative="two-sided")
                p["mw"].append(float(mw.pvalue))
                w = welch_difference(rd["linear_pieces"], rs["linear_pieces"])
                p["welch"].append(float(stats.ttest_ind(
                    np.asarray(rd["linear_pieces"], float), np.asarray(rs["linear_pieces"], float),
                    equal_var=False).pvalue))
                rows.append({"target": target_function(function).formula,
                             "deeper − shallower": f"{deep} − {shallow} hidden layers",
                             "success: difference": float(ok_d.mean() - ok_s.mean()),
                             "success: Fisher p": p["fisher"][-1],
                             "final MSE: P(deeper lower)": float(
                                 1 - mw.statistic / (len(loss_d) * len(loss_s))),
                             "final MSE: Mann–Whitney p": p["mw"][-1],
                             "regions: difference [95% CI]": diff(
                                 w["difference"], w["ci95_low"], w["ci95_high"]),
                             "regions: Welch p": p["welch"][-1]})
    # the success column's Holm p is over every row: secondary to the primary family (the
    # deepest minus the shallowest depth per function, Holm over the functions: flip_check)
    secondary = f"success: Holm p over all {len(rows)} rows (secondary)"
    for key, col in (("fisher", "success"), ("mw", "final MSE"), ("welch", "regions")):
        for row, adjusted in zip(rows, holm(p[key]), strict=True):
            row[secondary if key == "fisher" else f"{col}: Holm p"] = float(adjusted)
    rows = [{k: row[k] for k in (
        "target", "deeper − shallower", "success: difference", "success: Fisher p",
        secondary, "final MSE: P(deeper lower)", "final MSE: Mann–Whitney p",
        "final MSE: Holm p", "regions: difference [95% CI]", "regions: Welch p",
        "regions: Holm p")} for row in rows]
    return _grouped(table(rows), {
        "success probability": ["success: difference", "success: Fisher p", secondary],
        "final training MSE": ["final MSE: P(deeper lower)", "final MSE: Mann–Whitney p",
                               "final MSE: Holm p"],
        "activation regions": ["regions: difference [95% CI]", "regions: Welch p",
                               "regions: Holm p"]})


def _last_change(trace: list[float], steps: int = 50) -> float:
    """The loss change over the last ``steps`` kept steps of a finish, in percent of the loss
    ``steps`` kept steps before the end (NaN for a shorter ``trace``)."""
    if len(trace) <= steps:
        return float("nan")
    return float(100 * (trace[-1] / trace[-1 - steps] - 1))


def finish_table(results: dict):
    """Per function and depth, how the Levenberg–Marquardt finishes ended: counts of plateau,
    stall and step cap, the trial steps (median, max), the gradient norm at the end (median,
    max) and, over the seeds that hit the step cap, the largest relative loss change over
    their last 50 kept steps (percent; how far from a plateau they stopped; "–" where no
    seed hit the step cap).

    Args:
        results: as returned by :func:`run`.

    Returns:
        a display DataFrame, one row per (function, depth).
    """
    from hw1.report import table

    rows = []
    for function, by_depth in results.items():
        for depth, r in by_depth.items():
            fits = r["fits"]
            endings = [_ending(f["reason"]) for f in fits]
            trials = np.array([f["iterations"] for f in fits])
            grads = np.array([f["grad_norm"] for f in fits])
            capped = [abs(_last_change(f["loss_trace"])) for f in fits
                      if f["reason"] == "max_iter"]
            rows.append({"target": target_function(function).formula, "hidden layers": depth,
                         **{e: endings.count(e) for e in ("plateau", "stalled", "step cap")},
                         "trial steps: median": float(np.median(trials)),
                         "trial steps: max": int(trials.max()),
                         "gradient norm at end: median": float(np.median(grads)),
                         "gradient norm at end: max": float(grads.max()),
                         "step cap: largest |MSE change|, last 50 kept steps (%)":
                             max(capped) if capped else "–"})
    return table(rows)


def per_seed_rows(results: dict, fraction: float) -> list[dict]:
    """One row per (function, depth, seed) at the depth's chosen rate: the loss after Adam and
    after the finish, success, how the finish ended, its trial and kept steps, the relative
    change of the loss over its last 50 kept steps (NaN for fewer than 51), the final gradient
    norm and the number of activation regions (for :func:`hw1.report.long_table`).

    Args:
        results: as returned by :func:`run`.
        fraction: the success threshold as a fraction of the best constant's MSE.
    """
    rows = []
    for function, by_depth in results.items():
        for depth, r in by_depth.items():
            ok = _successes(r, fraction)
            for seed, fit, pieces, good in zip(r["seeds"], r["fits"], r["linear_pieces"], ok,
                                               strict=True):
                rows.append({"target": target_function(function).formula,
                             "hidden layers": depth, "seed": seed,
                             "MSE after Adam": fit["start_loss"], "final MSE": fit["loss"],
                             "success": bool(good), "finish ended in": _ending(fit["reason"]),
                             "LM trial steps": fit["iterations"],
                             "LM kept steps": fit["accepted"],
                             "MSE change, last 50 kept steps (%)": _last_change(
                                 fit["loss_trace"]),
                             "gradient norm at end": fit["grad_norm"],
                             "activation regions": pieces})
    return rows


def lr_table(results: dict):
    """Per function and depth: the median over the selection seeds of Adam's final loss at
    each learning rate of the grid, the rate chosen (lowest median), whether it sits at an
    edge of the grid (then the optimum is not bracketed) and the second-lowest median divided
    by the lowest (near 1: a close choice, which a small numerical change could flip).

    Args:
        results: as returned by :func:`run`.

    Returns:
        a display DataFrame, one row per (function, depth), one column per rate.
    """
    from hw1.report import table

    rows = []
    for function, by_depth in results.items():
        for depth, r in by_depth.items():
            lrs = r["lrs"]
            edge = ("lowest" if r["best_lr"] == lrs[0] else
                    "highest" if r["best_lr"] == lrs[-1] else "no")
            medians = np.sort(np.median(np.where(np.isfinite(
                np.asarray(r["selection_final_loss"], float)), r["selection_final_loss"],
                np.inf), axis=1))
            rows.append({"target": target_function(function).formula, "hidden layers": depth,
                         **{f"lr {lr:g}": float(np.median(losses)) for lr, losses in
                            zip(lrs, r["selection_final_loss"], strict=True)},
                         "chosen lr": r["best_lr"], "at grid edge": edge,
                         "runner-up ÷ chosen median": float(medians[1] / medians[0])
                         if len(medians) > 1 else None})
    return table(rows)


def _fisher(k_a: int, n_a: int, k_b: int, n_b: int) -> float:
    """Two-sided Fisher's exact p of ``k_a`` of ``n_a`` against ``k_b`` of ``n_b`` successes."""
    from scipy import stats

    return float(stats.fisher_exact([[k_a, n_a - k_a], [k_b, n_b - k_b]]).pvalue)


def _one_seed_flips(k_d: int, n_d: int, k_s: int, n_s: int, widen: bool
                    ) -> list[tuple[int, int, str]]:
    """Every way one seed can come out the other way: ``(k_d, k_s, what)`` after the flip.
    ``widen``: the flips that move the two success counts apart (one more success for the
    leading depth, or one fewer for the trailing one); otherwise those that move them
    together."""
    lead_deep = k_d / n_d >= k_s / n_s
    sign_d = 1 if lead_deep == widen else -1  # +1: one more deep success
    out = []
    if 0 <= k_d + sign_d <= n_d:
        out.append((k_d + sign_d, k_s, f"one {'more' if sign_d > 0 else 'fewer'} success, "
                                       "deeper"))
    if 0 <= k_s - sign_d <= n_s:
        out.append((k_d, k_s - sign_d, f"one {'more' if sign_d < 0 else 'fewer'} success, "
                                       "shallower"))
    return out


def flip_check(results: dict, fraction: float, deep: int, shallow: int, alpha: float = 0.05):
    """The primary comparison (``deep`` minus ``shallow`` hidden layers in success
    probability, one test per function, Holm-adjusted over the functions: the primary family)
    and whether one seed coming out the other way would change its answer.

    The fragile direction depends on the answer: a comparison significant at ``alpha`` (after
    Holm) is flipped against the observed difference (the counts move together), one that is
    not is flipped toward it (the counts move apart, e.g. one more success for the leading
    depth). Of the possible one-seed flips in that direction, the one that moves Fisher's p
    most is shown, one function at a time (the other functions as observed), and the Holm
    p recomputed over the functions.

    Args:
        results: as returned by :func:`run`.
        fraction: the success threshold as a fraction of the best constant's MSE.
        deep, shallow: the two depths compared.
        alpha: the level the Holm-adjusted p is compared with.

    Returns:
        a display DataFrame, one row per function.
    """
    from hw1.intervals import holm
    from hw1.report import table

    counts = []
    for by_depth in results.values():
        ok_d, ok_s = _successes(by_depth[deep], fraction), _successes(by_depth[shallow], fraction)
        counts.append((int(ok_d.sum()), len(ok_d), int(ok_s.sum()), len(ok_s)))
    p_seen = [_fisher(*c) for c in counts]
    adjusted = holm(p_seen)
    rows = []
    for i, (function, (k_d, n_d, k_s, n_s)) in enumerate(zip(results, counts, strict=True)):
        shown = bool(adjusted[i] < alpha)
        flips = _one_seed_flips(k_d, n_d, k_s, n_s, widen=not shown)
        row = {"target": target_function(function).formula,
               f"successes, {deep} layers": f"{k_d} of {n_d}",
               f"successes, {shallow} layer{'s' * (shallow > 1)}": f"{k_s} of {n_s}",
               "Fisher p": p_seen[i], "Holm p": float(adjusted[i]),
               f"Holm p < {alpha:g}": shown}
        if flips:
            p_flip = [_fisher(a, n_d, b, n_s) for a, b, _ in flips]
            best = int(np.argmax(p_flip) if shown else np.argmin(p_flip))
            k_d2, k_s2, what = flips[best]
            p_all = list(p_seen)
            p_all[i] = p_flip[best]
            adjusted_flip = float(holm(p_all)[i])
            row.update({"one seed flipped": f"{what}: {k_d2} of {n_d} vs {k_s2} of {n_s}",
                        "Fisher p, flipped": p_flip[best], "Holm p, flipped": adjusted_flip,
                        "answer changes": bool((adjusted_flip < alpha) != shown)})
        else:
            row.update({"one seed flipped": "none possible", "Fisher p, flipped": "–",
                        "Holm p, flipped": "–", "answer changes": False})
        rows.append(row)
    return table(rows)
