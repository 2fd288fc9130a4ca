"""Notebook 10's tables and statistics over the stored models (what the Findings quote)."""

from __future__ import annotations

from functools import partial

import numpy as np
from scipy import stats

from hw1.intervals import bootstrap_accuracy_difference, holm, mcnemar, welch_difference

from .run import GAPS, MEASURES, REGIME_LABELS, REGIMES

FIXED = ("equal_epochs", "criterion")
"""The two fixed-rate regimes (the rank tables pool and compare these)."""

N_BOOT = 2000
"""Bootstrap replicates over test images (a raw bootstrap p resolves down to 2 / N_BOOT)."""


def _regime_name(regime: str) -> str:
    """Short regime name for tables and figures (the notebook defines every regime)."""
    return {"equal_epochs": "equal epochs", "criterion": "criterion",
            "criterion_scaled_lr": "criterion, scaled lr"}[regime]


def _name(key: str) -> str:
    """Short name of a measure, gap or quantity for a table column or a figure label (the
    notebook's markdown explains each)."""
    return {"sensitivity_jacobian": "Jacobian sensitivity",
            "sensitivity_loss_gradient": "loss-gradient sensitivity",
            "sharpness": "ε-sharpness (%)", "sharpness_raw": "raw ε-sharpness",
            "top_eigenvalue": "top eigenvalue", "hessian_trace": "Hessian trace",
            "gap_acc": "accuracy gap", "gap_loss": "loss gap", "test_acc": "test accuracy",
            "test_loss": "test loss", "train_loss": "train loss",
            "full_test_acc": "test accuracy (full test set)"}[key]


def batches(results: dict, regime: str) -> list[int]:
    """The batch sizes a regime trained."""
    return results["scaled_batch_sizes" if regime == "criterion_scaled_lr" else "batch_sizes"]


def _regimes(results: dict) -> tuple[str, ...]:
    """The regimes present in ``results`` (older results lack the scaled arm)."""
    present = {r["regime"] for r in results["rows"]}
    return tuple(g for g in REGIMES if g in present)


def _p(p: float, resolution: float | None = None) -> str:
    """A p-value cell; a resampling p of 0 is shown as below the resampling's resolution."""
    from hw1.report import num

    return f"< {resolution:g}" if p == 0 and resolution else num(p)


def _rows(results: dict, regime: str, batch: int) -> list[dict]:
    return [r for r in results["rows"] if r["regime"] == regime and r["batch"] == batch]


def _values(results: dict, regime: str, batch: int, key: str) -> np.ndarray:
    return np.array([r[key] for r in _rows(results, regime, batch)], dtype=float)


def _correct(results: dict, regime: str, batch: int) -> np.ndarray:
    """``(seeds, N)`` per-image correctness on the whole test split."""
    return np.stack([np.asarray(r["full_test_correct"]) for r in _rows(results, regime, batch)])


def _capped(results: dict) -> bool:
    """Whether any criterion run stopped at the step cap before the criterion."""
    return any(r["reached"] is False for r in results["rows"] if r["regime"] != "equal_epochs")


def _steps(values: np.ndarray) -> str:
    """The range of step counts over seeds (one number when they all agree)."""
    from hw1.report import num

    low, high = int(values.min()), int(values.max())
    return num(low) if low == high else f"{num(low)}–{num(high)}"


def training_table(results: dict):
    """Per regime and batch size: learning rate, optimizer steps (range over seeds), runs that
    met the criterion, train/test loss and accuracy and both gaps (loss gap: test − train
    loss; accuracy gap: train − test accuracy), as mean ± 95% t half-width over seeds."""
    from hw1.report import ci, table

    rows = []
    for regime in _regimes(results):
        for bs in batches(results, regime):
            v = partial(_values, results, regime, bs)
            met = v("reached")
            rows.append({"regime": _regime_name(regime), "batch": bs,
                         "lr": f"{v('lr')[0]:.3g}", "steps": _steps(v("steps")),
                         "met criterion": "—" if regime == "equal_epochs" else
                         f"{int(np.nansum(met))}/{len(met)}",
                         "train loss": ci(v("train_loss")), "test loss": ci(v("test_loss")),
                         "loss gap": ci(v("gap_loss")), "train accuracy": ci(v("train_acc")),
                         "test accuracy": ci(v("test_acc")),
                         "accuracy gap": ci(v("gap_acc"))})
    return table(rows)


def _welch(w: dict) -> dict[str, str]:
    """A Welch result as the cells "difference [95% CI]" and "CI excludes 0"."""
    from hw1.report import diff

    return {"difference [95% CI]": diff(w["difference"], w["ci95_low"], w["ci95_high"]),
            "CI excludes 0": "yes" if w["excludes_0"] else "no"}


def _images(results: dict, a: tuple[str, int], b: tuple[str, int]) -> dict:
    """Test accuracy of ``a`` minus ``b`` (each ``(regime, batch)``, seeds averaged) on the
    whole test split, paired over images: bootstrap interval and p over images, and the exact
    McNemar p of the first seed of each (one model against one model)."""
    ca, cb = _correct(results, *a), _correct(results, *b)
    boot = bootstrap_accuracy_difference(ca, cb, n_boot=N_BOOT)
    return {**boot, "mcnemar_p": mcnemar(ca[0], cb[0])["p"]}


def batch_differences(results: dict, keys: tuple[str, ...] = ("test_acc", "gap_acc",
                                                               "test_loss", "gap_loss")):
    """Smallest minus largest batch size, per fixed-rate regime and quantity: the difference
    of seed means with its 95% Welch t-interval over seeds and its Welch p, Holm-adjusted
    over the table's rows; test-accuracy rows add the difference on the whole test split
    with a 95% bootstrap interval over test images (seeds averaged)."""
    from hw1.report import diff, num, table

    small, large = min(results["batch_sizes"]), max(results["batch_sizes"])
    rows, ps = [], []
    for regime in FIXED:
        for key in keys:
            a, b = _values(results, regime, small, key), _values(results, regime, large, key)
            w = welch_difference(a, b)
            ps.append(float(stats.ttest_ind(a, b, equal_var=False).pvalue))
            row = {"regime": _regime_name(regime), "quantity": _name(key), **_welch(w)}
            if key == "test_acc":
                im = _images(results, (regime, small), (regime, large))
                row["full test set, over images [95% CI]"] = diff(
                    im["difference"], im["ci95_low"], im["ci95_high"])
            else:
                row["full test set, over images [95% CI]"] = "—"
            rows.append(row)
    for row, p in zip(rows, holm(ps), strict=True):
        row["Holm p (seeds)"] = num(p)
    return table(rows)


def scaled_lr_table(results: dict):
    """The scaled-rate arm against the fixed rate, all at the train-loss criterion: per batch
    size of the arm, (i) scaled-rate test accuracy minus the fixed rate's at the same batch
    size and (ii) the fixed-rate smallest batch's test accuracy minus the scaled-rate large
    batch's (does the large-batch deficit survive the scaled rate?). Each: Welch over seeds
    (2,000-image subset; Holm over the table) and the bootstrap over the whole test split's
    images (seeds averaged; Holm over the table)."""
    from hw1.report import diff, num, table

    if "criterion_scaled_lr" not in _regimes(results):
        raise ValueError("these results hold no scaled-learning-rate arm")
    small = min(results["batch_sizes"])
    rows, p_seed, p_img = [], [], []
    for bs in results["scaled_batch_sizes"]:
        for label, a, b in (
                (f"batch {bs}: scaled − fixed lr", ("criterion_scaled_lr", bs),
                 ("criterion", bs)),
                (f"batch {small} (fixed) − batch {bs} (scaled)", ("criterion", small),
                 ("criterion_scaled_lr", bs))):
            va, vb = _values(results, *a, "test_acc"), _values(results, *b, "test_acc")
            w = welch_difference(va, vb)
            im = _images(results, a, b)
            p_seed.append(float(stats.ttest_ind(va, vb, equal_var=False).pvalue))
            p_img.append(im["p"])
            rows.append({"comparison (test accuracy)": label,
                         "over seeds [95% CI]": diff(w["difference"], w["ci95_low"],
                                                     w["ci95_high"]),
                         "full test set, over images [95% CI]": diff(
                             im["difference"], im["ci95_low"], im["ci95_high"])})
    # a bootstrap p of 0 lies below the raw resolution 2 / N_BOOT; after Holm over the
    # table's rows the honest bound is that many times larger
    floor = len(rows) * 2 / N_BOOT
    for row, ps, pi in zip(rows, holm(p_seed), holm(p_img), strict=True):
        row["Holm p (seeds)"], row["Holm p (images)"] = num(ps), _p(pi, floor)
    return table(rows)


def scaled_measure_table(results: dict, keys: tuple[str, ...] = (*MEASURES, "steps")):
    """The scaled-rate arm's measures against the fixed rate at the same batch size, all at
    the train-loss criterion: per quantity and batch size of the arm, the ratio of the seed
    geometric means (scaled over fixed: ``10 ** (mean log10 difference)``) with the 95% Welch
    interval of the log10 difference mapped back, and its Welch p Holm-adjusted over the
    table's measure cells (the optimizer-step row, the arm's confound, is not tested)."""
    from hw1.report import num, table

    if "criterion_scaled_lr" not in _regimes(results):
        raise ValueError("these results hold no scaled-learning-rate arm")
    rows, cells = [], []
    for key in keys:
        row = {"quantity": "optimizer steps" if key == "steps" else _name(key)}
        for bs in results["scaled_batch_sizes"]:
            a = np.log10(_values(results, "criterion_scaled_lr", bs, key))
            b = np.log10(_values(results, "criterion", bs, key))
            w = welch_difference(a, b)
            column = f"batch {bs}: scaled / fixed lr [95% CI]"
            row[column] = (f"×{num(10 ** w['difference'])} [{num(10 ** w['ci95_low'])}, "
                           f"{num(10 ** w['ci95_high'])}]")
            if key != "steps":
                cells.append((row, f"batch {bs}: Holm p",
                              float(stats.ttest_ind(a, b, equal_var=False).pvalue)))
            else:
                row[f"batch {bs}: Holm p"] = "—"
        rows.append(row)
    for (row, column, _), p in zip(cells, holm([c[2] for c in cells]), strict=True):
        row[column] = num(p)
    return table(rows)


def measure_table(results: dict):
    """Per regime and batch size: every measure as mean ± 95% t half-width over seeds."""
    from hw1.report import ci, table

    return table([{"regime": _regime_name(regime), "batch": bs,
                   **{_name(k): ci(_values(results, regime, bs, k)) for k in MEASURES}}
                  for regime in _regimes(results) for bs in batches(results, regime)])


def _epsilon_ratio(results: dict, regime: str, batch: int) -> np.ndarray:
    """Per seed: raw sharpness increase at the larger ε over that at the smaller ε."""
    return (_values(results, regime, batch, "sharpness_raw")
            / _values(results, regime, batch, "sharpness_raw_small_eps"))


def epsilon_scaling(results: dict):
    """Per fixed-rate regime and batch size: raw sharpness increase at the larger ε over that
    at the smaller ε (4 for a pure quadratic at a minimum when ε halves, 2 for a pure
    gradient term), mean ± 95% t half-width over seeds, and the train loss it was measured
    at."""
    from hw1.report import ci, table

    big, small = results["epsilons"]
    head = f"raw-increase ratio, ε = {big:g} / ε = {small:g}"
    return table([{"regime": _regime_name(regime), "batch": bs,
                   head: ci(_epsilon_ratio(results, regime, bs)),
                   "train loss": ci(_values(results, regime, bs, "train_loss"))}
                  for regime in FIXED for bs in results["batch_sizes"]])


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's τ-b of each row pair: ``x``, ``y`` ``(..., n)`` → ``(...)`` (as
    ``scipy.stats.kendalltau``: ``(concordant − discordant) / sqrt((n₀ − n₁)(n₀ − n₂))``,
    n₀ pairs, n₁ and n₂ of them tied in x and in y; NaN when either is constant)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    i, j = np.triu_indices(x.shape[-1], 1)
    sx, sy = np.sign(x[..., i] - x[..., j]), np.sign(y[..., i] - y[..., j])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sx * sy).sum(-1) / np.sqrt((sx != 0).sum(-1) * (sy != 0).sum(-1))


def kendall_with_interval(x: np.ndarray, y: np.ndarray, resamples: int = 2000,
                          seed: int = 0) -> tuple[float, float, float]:
    """Kendall's τ-b of ``x`` and ``y`` ``(n,)`` with a 95% percentile bootstrap interval over
    resampled pairs (``resamples`` draws of n pairs with replacement from
    ``numpy.random.default_rng(seed)``; all at once, :func:`kendall_tau_b`)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    tau = float(kendall_tau_b(x, y))
    idx = np.random.default_rng(seed).integers(0, len(x), size=(resamples, len(x)))
    boot = kendall_tau_b(x[idx], y[idx])
    low, high = np.nanpercentile(boot, [2.5, 97.5])
    return tau, float(low), float(high)


def _fixed_rows(results: dict) -> list[dict]:
    return [r for r in results["rows"] if r["regime"] in FIXED]


def rank_correlations(results: dict, resamples: int = 2000) -> list[dict]:
    """Kendall τ between each measure and each generalization gap, over the models of both
    fixed-rate regimes pooled (two stopping rules mixed) and within each, with bootstrap 95%
    intervals; ``excludes_0`` says whether the interval leaves out zero."""
    groups = {"both regimes": _fixed_rows(results),
              **{REGIME_LABELS[g]: [r for r in results["rows"] if r["regime"] == g]
                 for g in FIXED}}
    out = []
    for measure in MEASURES:
        for gap in GAPS:
            for name, rows in groups.items():
                x = np.array([r[measure] for r in rows], dtype=float)
                y = np.array([r[gap] for r in rows], dtype=float)
                tau, low, high = kendall_with_interval(x, y, resamples)
                out.append({"measure": measure, "gap": gap, "models": name, "n": len(rows),
                            "tau": tau, "ci95_low": low, "ci95_high": high,
                            "excludes_0": bool(low > 0 or high < 0)})
    return out


def _tau_cell(t: dict) -> str:
    """A Kendall τ row as ``"+0.738 [0.593, 0.864]"`` (τ with its 95% interval)."""
    from hw1.report import diff

    return diff(t["tau"], t["ci95_low"], t["ci95_high"])


def _group_name(t: dict) -> str:
    """Column name of a :func:`rank_correlations` grouping, with its number of models."""
    if t["models"] == "both regimes":
        return f"τ [95% CI], both regimes pooled ({t['n']})"
    regime = next(g for g in REGIMES if REGIME_LABELS[g] == t["models"])
    return f"τ [95% CI], {_regime_name(regime)} ({t['n']})"


def rank_table(taus: list[dict]):
    """The :func:`rank_correlations` rows as one row per gap and measure, one column per
    grouping of models: Kendall τ with its 95% bootstrap interval (accuracy gap first)."""
    from hw1.report import table

    rows = {}
    for t in taus:
        row = rows.setdefault((t["gap"], t["measure"]), {"gap": _name(t["gap"]),
                                                        "measure": _name(t["measure"])})
        row[_group_name(t)] = _tau_cell(t)
    return table([rows[(gap, m)] for gap in ("gap_acc", "gap_loss") for m in MEASURES
                  if (gap, m) in rows])


def stratified_tau(x: np.ndarray, y: np.ndarray, strata: np.ndarray,
                   permutations: int = 2000, seed: int = 0) -> dict[str, float]:
    """Kendall τ of ``x`` and ``y`` ``(n,)`` given ``strata`` ``(n,)``: only pairs within one
    stratum count, ``τ = Σ sign(xᵢ − xⱼ)·sign(yᵢ − yⱼ) / (pairs within strata)`` (τ-a; ties
    count 0), so a quantity that differs only between strata adds nothing. ``p`` is the
    two-sided permutation p-value with ``y`` shuffled within each stratum
    (``(1 + #{|τ*| ≥ |τ|}) / (1 + permutations)``).

    Returns:
        ``{"tau", "p", "pairs"}``.
    """
    x, y, strata = (np.asarray(v) for v in (x, y, strata))
    if not (x.shape == y.shape == strata.shape) or x.ndim != 1:
        raise ValueError(f"x, y and strata must be (n,) arrays of one length, got {x.shape}, "
                         f"{y.shape}, {strata.shape}")
    groups = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    pairs = [(g[i], g[j]) for g in groups for i in range(len(g)) for j in range(i + 1, len(g))]
    if not pairs:
        raise ValueError("no stratum holds two observations")
    i, j = np.array(pairs).T
    sx = np.sign(x[i] - x[j])

    def tau_of(yy: np.ndarray) -> np.ndarray:  # yy (..., n)
        return (sx * np.sign(yy[..., i] - yy[..., j])).mean(-1)

    tau = float(tau_of(y))
    rng = np.random.default_rng(seed)
    shuffled = np.broadcast_to(y, (permutations, len(y))).copy()
    for g in groups:
        shuffled[:, g] = rng.permuted(shuffled[:, g], axis=1)
    null = tau_of(shuffled)
    p = (1 + np.sum(np.abs(null) >= abs(tau) - 1e-12)) / (1 + permutations)
    return {"tau": tau, "p": float(p), "pairs": len(pairs)}


def stratified_table(results: dict, gap: str = "gap_acc", permutations: int = 2000):
    """Per fixed-rate regime: τ of each measure with the gap ``gap`` given the batch size
    (:func:`stratified_tau`, τ-a over pairs of models of the same batch size only) with its
    permutation p, Holm-adjusted over the 24 measure tests of both gaps and both regimes
    (the family is the same whichever gap is shown); plus the same τ of the final train loss
    with the gap, as a reference, its p unadjusted and outside the family."""
    from hw1.report import num, table

    if gap not in GAPS:
        raise ValueError(f"gap must be one of {GAPS}, got {gap!r}")
    tests = {}
    for g in GAPS:
        for key in (*MEASURES, "train_loss"):
            for regime in FIXED:
                sel = [r for r in results["rows"] if r["regime"] == regime]
                tests[g, key, regime] = stratified_tau(
                    np.array([r[key] for r in sel], dtype=float),
                    np.array([r[g] for r in sel], dtype=float),
                    np.array([r["batch"] for r in sel]), permutations)
    family = [k for k in tests if k[1] != "train_loss"]
    adjusted = dict(zip(family, holm([tests[k]["p"] for k in family]), strict=True))
    rows = []
    for key in (*MEASURES, "train_loss"):
        row = {"given the batch size: τ-a of": _name(key)
               + (" (reference)" if key == "train_loss" else "")}
        for regime in FIXED:
            t = tests[gap, key, regime]
            row[f"{_regime_name(regime)}: τ"] = f"{'+' if t['tau'] > 0 else ''}{num(t['tau'])}"
            row[f"{_regime_name(regime)}: p"] = (  # p >= 1/(1 + permutations)
                f"{num(t['p'])} (unadjusted)" if key == "train_loss"
                else f"{num(adjusted[gap, key, regime])} (Holm)")
        rows.append(row)
    return table(rows)


def confounds(results: dict, resamples: int = 1000) -> list[dict]:
    """Within each fixed-rate regime: Kendall τ (with a 95% bootstrap interval) of every
    measure, and of both gaps, with the batch size and with the final train loss."""
    out = []
    for regime in FIXED:
        rows = [r for r in results["rows"] if r["regime"] == regime]
        for key in (*MEASURES, *GAPS):
            x = np.array([r[key] for r in rows], dtype=float)
            for other in ("batch", "train_loss"):
                y = np.array([r[other] for r in rows], dtype=float)
                tau, low, high = kendall_with_interval(x, y, resamples)
                out.append({"regime": regime, "quantity": key, "against": other, "tau": tau,
                            "ci95_low": low, "ci95_high": high,
                            "excludes_0": bool(low > 0 or high < 0)})
    return out


def confound_table(rows: list[dict]):
    """The :func:`confounds` rows as one row per quantity (measures, then both gaps), one
    column per regime and control: Kendall τ with its 95% bootstrap interval."""
    from hw1.report import table

    against = {"batch": "batch size", "train_loss": "train loss"}
    out = {}
    for t in rows:
        row = out.setdefault(t["quantity"], {"quantity": _name(t["quantity"])})
        row[f"{_regime_name(t['regime'])}: τ with {against[t['against']]}"] = _tau_cell(t)
    return table(list(out.values()))


def summary(results: dict):
    """The training table (the notebook also shows the measure, ε-scaling and rank
    tables)."""
    return training_table(results)
