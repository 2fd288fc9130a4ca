"""Tables and statistics of the minimal-ratio notebook (what its Findings quote).

Every function takes :func:`hw1.experiments.minimal_ratio.run`'s output ``results[task]
[activation]`` (or one task's ``results[task]`` where it says so) and returns a DataFrame
through :func:`hw1.report.table` or a printable line.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np

from hw1.intervals import holm
from hw1.report import diff, num, table

#: relative cutoffs λ_cut of the sweep (eigenvalues with |λ| <= λ_cut·max|λ| count as zero)
TAUS = np.concatenate([[0.0], 10.0 ** np.arange(-16, -0.99, 0.5)])

#: two sorted log10 losses further apart than this start a new loss band (plateau)
BAND_GAP = 0.02

__all__ = ["BAND_GAP", "TAUS", "band_labels", "between_band_table", "correlation_table",
           "counts", "counts_at", "cutoff_correlation_table", "cutoff_table", "deep_table",
           "delta_lines", "delta_table", "flatness_table", "index_loss_line", "label",
           "null_share", "paired_table", "partial_spearman", "rank_loss_table", "rank_table",
           "ratio_at_weyl",
           "ratio_vs_cutoff", "refinement_table", "residual_table", "summary", "weyl_levels",
           "weyl_table", "within_spearman", "zero_table"]


def label(task: str, activation: str) -> str:
    """Display name of a task and activation (``ReLU``, ``tanh, 2-D``)."""
    name = {"relu": "ReLU"}.get(activation, activation)
    return name if task == "main" else f"{name}, 2-D"


def _each(results: dict) -> Iterator[tuple[str, str, dict]]:
    """``(label, activation, r)`` over every task and activation."""
    for task, per in results.items():
        for act, r in per.items():
            yield label(task, act), act, r


def _count(value: float) -> str:
    """A count exactly (``29``, ``1341``); a median of counts that is not whole to 3
    significant digits (``13.5``, ``238``)."""
    v = float(value)
    return str(int(v)) if v.is_integer() else num(v)


def _p(p: float, resamples: int) -> str:
    """A permutation p-value; at its floor 1/(1 + resamples) as ``< 0.001`` style bound."""
    if np.isnan(p):
        return ""
    floor = 1 / (1 + resamples)
    return f"< {1 / resamples:g}" if p <= floor * (1 + 1e-9) else num(p)


def _holm_p(q: float, raw: float, resamples: int) -> str:
    """A Holm-adjusted p-value; where the raw one is at the permutation floor, an upper bound
    rounded up (``≤ 0.01``)."""
    if np.isnan(q):
        return ""
    if raw <= (1 + 1e-9) / (1 + resamples):
        bound = q * (1 + resamples) / resamples
        exponent = np.floor(np.log10(bound))
        return f"≤ {np.ceil(round(bound / 10 ** exponent, 6)) * 10 ** exponent:g}"
    return num(q)


def _median_range(values) -> str:
    """``"median (lowest–highest)"`` of per-run counts ``(R,)``."""
    v = np.asarray(values)
    return f"{_count(np.median(v))} ({_count(v.min())}–{_count(v.max())})"


def _median_range_num(values) -> str:
    """``"median (lowest–highest)"`` of per-run real values, 3 significant digits."""
    v = np.asarray(values, dtype=float)
    return f"{num(float(np.median(v)))} ({num(float(v.min()))}–{num(float(v.max()))})"


def _cut(cutoff: float) -> str:
    """A cutoff as the tables print it: powers of ten as ``1e-4``, others via ``num``."""
    c = float(cutoff)
    if 0 < c < np.inf:
        exponent = round(np.log10(c))
        if np.isclose(c, 10.0 ** exponent, rtol=1e-9):
            return f"1e{exponent}"
    return num(c)


def ratio_vs_cutoff(eigenvalues: np.ndarray, cutoffs: np.ndarray = TAUS) -> np.ndarray:
    """Minimal ratio of every run at every relative cutoff: ``(R, len(cutoffs))``.

    Args:
        eigenvalues: ``(R, P)`` one spectrum per run.
        cutoffs: relative cutoffs λ_cut; eigenvalue λ of a run counts as positive when
            ``λ > λ_cut · max|λ|`` of that run.
    """
    eig = np.asarray(eigenvalues, dtype=float)
    scale = np.abs(eig).max(axis=1, keepdims=True)  # (R, 1)
    return (eig[:, :, None] > cutoffs[None, None, :] * scale[:, :, None]).mean(axis=1)


def counts_at(eigenvalues: np.ndarray, levels) -> dict[str, np.ndarray]:
    """Per run: eigenvalues below ``−level``, within ``±level`` and above ``level``, for an
    absolute ``level`` per run ``(R,)`` (or one for all), ``(R,)`` each."""
    eig = np.asarray(eigenvalues, dtype=float)
    level = np.broadcast_to(np.asarray(levels, dtype=float), (eig.shape[0],))[:, None]
    neg, pos = (eig < -level).sum(1), (eig > level).sum(1)
    return {"negative": neg, "near_zero": eig.shape[1] - neg - pos, "positive": pos}


def counts(eigenvalues: np.ndarray, cutoff: float) -> dict[str, np.ndarray]:
    """:func:`counts_at` for the relative cutoff ``cutoff`` (level ``cutoff·max|λ|``)."""
    eig = np.asarray(eigenvalues, dtype=float)
    return counts_at(eig, cutoff * np.abs(eig).max(axis=1))


def weyl_levels(r: dict) -> np.ndarray:
    """Per run, the Weyl bound ``‖H_end − H_refined‖₂`` ``(R,)``: no eigenvalue of the refined
    Hessian moved further than this from the float32 end point, so an eigenvalue within it
    of zero may differ in sign between the two points of the run; one beyond it has the same
    sign at both. δ measures how far the refinement moved the spectrum, not the uncertainty
    of the refined spectrum itself."""
    return np.array([f["weyl"] for f in r["refined"]])


def ratio_at_weyl(r: dict) -> np.ndarray:
    """Minimal ratio of every run at its own Weyl bound: ``#{λ > δ} / P`` ``(R,)``."""
    eig = np.asarray(r["refined_eigenvalues"], dtype=float)
    return counts_at(eig, weyl_levels(r))["positive"] / eig.shape[1]


def null_share(eigenvalues: np.ndarray, gradient_spectrum: np.ndarray, levels) -> np.ndarray:
    """Per run, the share of ‖g‖² on the Hessian's eigenvectors with |λ| <= level ``(R,)``.

    Args:
        eigenvalues: ``(R, P)``; gradient_spectrum: ``(R, P)`` squared components of g on the
            eigenvectors, in the same order; levels: absolute level per run ``(R,)``.
    """
    eig = np.asarray(eigenvalues, dtype=float)
    spec = np.asarray(gradient_spectrum, dtype=float)
    level = np.broadcast_to(np.asarray(levels, dtype=float), (eig.shape[0],))[:, None]
    return (spec * (np.abs(eig) <= level)).sum(1) / spec.sum(1)


def _losses(r: dict) -> np.ndarray:
    return np.array([f["loss"] for f in r["refined"]])


def _grad(r: dict, key: str = "refined") -> np.ndarray:
    return np.array([f["grad_norm"] for f in r[key]])


def _bootstrap_median(values: np.ndarray, resamples: int = 2000, seed: int = 0
                      ) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(resamples, len(values)))
    low, high = np.percentile(np.median(values[idx], axis=1), [2.5, 97.5])
    return float(low), float(high)


def refinement_table(results: dict):
    """Per task and activation: the training MSE at the refined points, how many runs reached
    each gradient-norm level before and after the float64 refinement, why the others
    stopped, and median gradient norm and distance moved."""
    rows = []
    for name, _, r in _each(results):
        before, after = _grad(r, "end"), _grad(r)
        reasons = [f["reason"] for f in r["refined"]]
        rows.append({"runs": name + f" ({len(after)})",
                     "training MSE, refined: median (lowest–highest)":
                         _median_range_num(_losses(r)),
                     "‖∇L‖ ≤ 1e-3 after the float32 search": int((before <= 1e-3).sum()),
                     "‖∇L‖ ≤ 1e-6 after refinement": int((after <= 1e-6).sum()),
                     "refinement stalled": reasons.count("stalled"),
                     "used all its steps": reasons.count("max_iter"),
                     "median ‖∇L‖, end point": float(np.median(before)),
                     "median ‖∇L‖, refined": float(np.median(after)),
                     "median ‖Δθ‖": float(np.median([f["distance"] for f in r["refined"]]))})
    return table(rows)


def deep_table(results: dict, tol: float = 1e-10):
    """The runs refined further towards ``‖∇L‖ <= tol``: how many got there, why the others
    stopped, ‖∇L‖ at the start and the end of this phase and their ratio, the accepted
    trial steps (the final damping μ is not stored), and how flat the gradient is where they
    stopped: ‖Hg‖/(‖g‖·max|λ|) beside the
    even-spread reference √(mean λ²)/max|λ| of the same spectra, the share of ‖g‖² on
    eigenvectors with |λ| within the run's Weyl bound δ beside the fraction of eigenvalues
    there (what a gradient spread evenly would put there), and the index beyond δ."""
    rows = []
    for name, _, r in _each(results):
        deep = r["deep"]
        if not deep:
            continue
        g = np.array([d["grad_norm"] for d in deep])
        reasons = [d["reason"] for d in deep]
        eig = np.asarray(r["deep_eigenvalues"], dtype=float)
        scale = np.abs(eig).max(1)
        delta = weyl_levels(r)[:len(deep)]
        rows.append({"runs": f"{name} ({len(deep)})",
                     f"‖∇L‖ ≤ {_cut(tol)}": int((g <= tol).sum()),
                     "stalled": reasons.count("stalled"),
                     "used all its steps": reasons.count("max_iter"),
                     "‖∇L‖ at the start: median (lowest–highest)": _median_range_num(
                         _grad(r)[:len(deep)]),
                     "‖∇L‖ where it stopped: median (lowest–highest)": _median_range_num(g),
                     "‖∇L‖ end / start: median (lowest–highest)": _median_range_num(
                         g / _grad(r)[:len(deep)]),
                     "accepted of trial steps: median (lowest–highest)": (
                         _median_range([d["accepted"] for d in deep]) + " of "
                         + _count(np.median([d["iterations"] for d in deep]))),
                     "‖Hg‖/(‖g‖·max|λ|) there: median": float(np.median(
                         np.array([d["hg_ratio"] for d in deep]) / scale)),
                     "even spread √(mean λ²)/max|λ| there: median": float(np.median(
                         np.sqrt((eig ** 2).mean(1)) / scale)),
                     "share of ‖g‖² on |λ| ≤ δ there: median": float(np.median(null_share(
                         eig, r["deep_gradient_spectrum"], delta))),
                     "fraction of eigenvalues with |λ| ≤ δ there: median": float(np.median(
                         counts_at(eig, delta)["near_zero"] / eig.shape[1])),
                     "index there (λ < −δ): median": _count(np.median(counts_at(
                         eig, delta)["negative"]))})
    return table(rows)


def weyl_table(results: dict, resamples: int = 2000, seed: int = 0):
    """Per task and activation at each run's own Weyl bound δ = ‖H_end − H_refined‖₂: δ
    relative to max|λ|, the counts of negative, near-zero and positive eigenvalues, and the
    median minimal ratio with its 95% percentile-bootstrap interval over runs."""
    rows = []
    for name, _, r in _each(results):
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        delta = weyl_levels(r)
        c = counts_at(eig, delta)
        ratio = c["positive"] / eig.shape[1]
        low, high = _bootstrap_median(c["positive"].astype(float), resamples, seed)
        P = eig.shape[1]
        rows.append({"runs": f"{name} ({len(delta)})",
                     "δ / max|λ|: median (lowest–highest)": _median_range_num(
                         delta / np.abs(eig).max(1)),
                     "runs with index > 0": int((c["negative"] > 0).sum()),
                     "negative": _median_range(c["negative"]),
                     "near zero": _median_range(c["near_zero"]),
                     "positive": _median_range(c["positive"]),
                     "minimal ratio: median count of P [95% CI]": (
                         f"{_count(np.median(c['positive']))} [{_count(low)}, {_count(high)}] "
                         f"of {P} = {num(float(np.median(ratio)))}")})
    return table(rows)


def cutoff_table(per_activation: dict, cutoffs: tuple[float, ...] = (0.0, 1e-12, 1e-8, 1e-6,
                                                                     1e-4, 1e-2)):
    """One task's minimal ratio per relative cutoff (rows): median and lowest–highest run per
    activation, with a last row at the per-run Weyl bound.

    Args:
        per_activation: ``results[task]``.
        cutoffs: the relative cutoffs λ_cut to show.
    """
    ratios = {act: ratio_vs_cutoff(r["refined_eigenvalues"], np.array(cutoffs))
              for act, r in per_activation.items()}
    rows = []
    for j, cutoff in enumerate(cutoffs):
        row = {"cutoff": f"λ_cut = {_cut(cutoff)}"}
        for act, x in ratios.items():
            row[f"{label('main', act)}: median ratio"] = float(np.median(x[:, j]))
            row[f"{label('main', act)}: lowest–highest run"] = (f"{num(x[:, j].min())}–"
                                                               f"{num(x[:, j].max())}")
        rows.append(row)
    row = {"cutoff": "per-run Weyl bound δ"}
    for act, r in per_activation.items():
        x = ratio_at_weyl(r)
        row[f"{label('main', act)}: median ratio"] = float(np.median(x))
        row[f"{label('main', act)}: lowest–highest run"] = f"{num(x.min())}–{num(x.max())}"
    rows.append(row)
    return table(rows)


def rank_table(results: dict):
    """Per task and activation: the rank of the Gauss–Newton part G beside its bounds: the
    number of data points N and, for ReLU, (d + 1) × the linear regions holding data (within
    one region the Jacobian rows span at most d + 1 dimensions, d the input dimension); and
    the positive eigenvalues of H beyond the Weyl bound (the minimal ratio's numerator) beside
    it, with their Spearman correlation over runs."""
    rows = []
    for name, act, r in _each(results):
        rank = np.array([f["rank_gn"] for f in r["refined"]])
        positive = counts_at(r["refined_eigenvalues"], weyl_levels(r))["positive"]
        row = {"runs": f"{name} ({len(rank)})", "N": r["n_points"], "P": r["n_params"],
               "rank G: median (lowest–highest)": _median_range(rank),
               "positive λ of H beyond δ: median": _count(np.median(positive)),
               "Spearman: positive beyond δ vs rank G": _spearman(positive, rank),
               "(d+1)·regions: median (lowest–highest)": "",
               "runs with rank G ≤ (d+1)·regions": "", "alive units: median": ""}
        if act == "relu":
            bound = (r["input_dim"] + 1) * np.array([f["regions"] for f in r["refined"]])
            row["(d+1)·regions: median (lowest–highest)"] = _median_range(bound)
            row["runs with rank G ≤ (d+1)·regions"] = int((rank <= bound).sum())
            row["alive units: median"] = _count(np.median([d["alive_units"]
                                                           for d in r["dead"]]))
        rows.append(row)
    return table(rows)


def _spearman(a, b) -> float:
    from scipy.stats import ConstantInputWarning, spearmanr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        return float(spearmanr(a, b).statistic)


def residual_table(results: dict):
    """Where the negative eigenvalues come from, per task and activation, at the refined
    points: the negative counts of H and of its residual part R at the Weyl bound δ; the
    most negative eigenvalue of H against that of R restricted to the null space of G (the
    directions G does not curve); ‖R‖₂ and δ relative to max|λ| and the runs with ‖R‖₂ > δ
    (G is positive semi-definite, so λ_min(H) ≥ −‖R‖₂: only those runs can have an
    eigenvalue below −δ); and over runs the Spearman correlation of |λ_min(H)| with ‖R‖₂
    (partly forced by that bound) and of ‖R‖₂ with the loss (all in absolute units)."""
    rows = []
    for name, _, r in _each(results):
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        eig_r = np.asarray(r["residual_eigenvalues"], dtype=float)
        delta = weyl_levels(r)
        lam_min = np.clip(-eig.min(1), 0, None)
        r_norm = np.abs(eig_r).max(1)
        null = np.array([-f["res_lam_min_null"] for f in r["refined"]])
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(null > 0, lam_min / null, np.nan)
        rows.append({"runs": name,
                     "negative λ of H beyond δ": _median_range(counts_at(eig, delta)[
                         "negative"]),
                     "negative λ of R beyond δ": _median_range(counts_at(eig_r, delta)[
                         "negative"]),
                     "|λ_min(H)| / |λ_min(R on null G)|: median": float(np.nanmedian(share)),
                     "‖R‖₂ / max|λ(H)|: median": float(np.median(r_norm / np.abs(eig).max(1))),
                     "δ / max|λ(H)|: median": float(np.median(delta / np.abs(eig).max(1))),
                     "runs with ‖R‖₂ > δ": f"{int((r_norm > delta).sum())} of {len(delta)}",
                     "Spearman |λ_min(H)| vs ‖R‖₂": _spearman(lam_min, r_norm),
                     "Spearman ‖R‖₂ vs loss": _spearman(r_norm, _losses(r))})
    return table(rows)


def partial_spearman(a, b, c) -> float:
    """Spearman correlation of ``a`` and ``b`` given ``c`` (all ``(n,)``): the correlation of
    the ranks of ``a`` and ``b`` after removing from each its least-squares line on the ranks
    of ``c``. NaN when a residual is constant."""
    from scipy.stats import rankdata

    ranks = [rankdata(np.asarray(v, dtype=float)) for v in (a, b, c)]
    z = np.column_stack([np.ones(len(ranks[2])), ranks[2]])
    res = [x - z @ np.linalg.lstsq(z, x, rcond=None)[0] for x in ranks[:2]]
    norms = [np.linalg.norm(e) for e in res]
    if min(norms) <= 1e-9 * len(ranks[2]):  # ranks are O(n): a residual of rounding size
        return np.nan
    return float((res[0] * res[1]).sum() / (norms[0] * norms[1]))


def _percentile_ci(values) -> tuple[float, float]:
    with warnings.catch_warnings():  # all-NaN resamples
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(np.asarray(values, dtype=float), [2.5, 97.5])
    return float(low), float(high)


def _paired(log_g: np.ndarray, log_l: np.ndarray, moved: np.ndarray, resamples: int = 2000,
            seed: int = 0) -> dict:
    """Paired within-run changes: ``log_g``, ``log_l`` ``(n, 2)`` (before, after); ``moved``
    ``(n,)`` the distance ‖Δθ‖ between the two points."""
    dg, dl = log_g[:, 1] - log_g[:, 0], log_l[:, 1] - log_l[:, 0]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(dg), size=(resamples, len(dg)))
    low, high = _percentile_ci([_spearman(dg[i], dl[i]) for i in idx])
    p_low, p_high = _percentile_ci([partial_spearman(dg[i], dl[i], moved[i]) for i in idx])
    slope = float(np.polyfit(dg, dl, 1)[0]) if np.ptp(dg) > 0 else np.nan
    return {"n": len(dg), "dg": float(np.median(dg)), "dl": float(np.median(dl)),
            "fell": int((dl < 0).sum()), "rho": _spearman(dg, dl), "low": low,
            "high": high, "slope": slope, "base": _spearman(log_g[:, 0], log_l[:, 0]),
            "partial": partial_spearman(dg, dl, moved), "p_low": p_low, "p_high": p_high}


def paired_table(results: dict, resamples: int = 1000, seed: int = 0, further: bool = False):
    """The paired within-run test: between the float32 end point and the refined point (and,
    with ``further``, between the refined and the further-refined point), the change of
    log10|λ_min| against the change of log10‖∇L‖ in the same run. Both changes share the
    starting point and the move, so beside their Spearman correlation the table gives the
    between-run Spearman of the starting levels (log10|λ_min| vs log10‖∇L‖ at the end
    point) and the partial Spearman of the changes given the distance moved ‖Δθ‖. Runs whose
    spectrum has no negative eigenvalue at one of the two points are left out (their count
    is in the ``runs`` cell)."""
    rows = []
    for name, _, r in _each(results):
        moved = np.array([f["distance"] for f in r["refined"]])
        steps = [("end → refined", _grad(r, "end"), _grad(r),
                  np.asarray(r["eigenvalues"]).min(1),
                  np.asarray(r["refined_eigenvalues"]).min(1), moved)]
        if further and r["deep"]:
            k = len(r["deep"])
            steps.append(("refined → further", _grad(r)[:k], _grad(r, "deep"),
                          np.asarray(r["refined_eigenvalues"])[:k].min(1),
                          np.asarray(r["deep_eigenvalues"]).min(1),
                          np.array([d["distance"] for d in r["deep"]])))
        for step, g0, g1, l0, l1, dist in steps:
            use = (l0 < 0) & (l1 < 0) & (g0 > 0) & (g1 > 0)
            if use.sum() < 3:
                continue
            x = _paired(np.log10(np.stack([g0, g1], 1)[use]),
                        np.log10(-np.stack([l0, l1], 1)[use]), dist[use], resamples, seed)
            rows.append({"runs": f"{name}: {step} ({x['n']} of {len(g0)})",
                         "Δlog10‖∇L‖: median": x["dg"],
                         "Δlog10|λ_min|: median": x["dl"],
                         "runs where |λ_min| fell": x["fell"],
                         "Spearman of the changes [95% CI]": diff(x["rho"], x["low"],
                                                                  x["high"]),
                         "slope Δlog|λ_min| / Δlog‖∇L‖": x["slope"],
                         "partial Spearman given ‖Δθ‖ [95% CI]": diff(
                             x["partial"], x["p_low"], x["p_high"]),
                         "Spearman of the starting levels (between runs)": x["base"]})
    return table(rows)


def flatness_table(results: dict):
    """‖Hg‖/‖g‖ at the float32 end points and at the refined points, relative to max|λ|,
    beside what a direction spread evenly over the eigenvectors would give
    (√(mean λ²)/max|λ|); the share of ‖g‖² on eigenvectors with |λ| ≤ δ beside the fraction
    of eigenvalues there (the share an evenly spread gradient would have); a gradient-flat
    point (Frye et al., 2021) has ‖Hg‖/‖g‖ far below the even spread: its gradient lies in
    near-null directions of H."""
    rows = []
    for name, _, r in _each(results):
        e_end = np.asarray(r["eigenvalues"], dtype=float)
        e_ref = np.asarray(r["refined_eigenvalues"], dtype=float)
        s_end, s_ref = np.abs(e_end).max(1), np.abs(e_ref).max(1)
        hg_end = np.array([f["hg_ratio"] for f in r["end"]]) / s_end
        hg_ref = np.array([f["hg_ratio"] for f in r["refined"]]) / s_ref
        even = np.sqrt((e_end ** 2).mean(1)) / s_end
        rows.append({"runs": f"{name} ({len(hg_end)})",
                     "end point: ‖Hg‖/(‖g‖·max|λ|), median (lowest–highest)":
                         _median_range_num(hg_end),
                     "even spread √(mean λ²)/max|λ|: median": float(np.median(even)),
                     "runs 10× below the even spread": int((hg_end < even / 10).sum()),
                     "share of ‖g‖² on |λ| ≤ δ: median": float(np.median(null_share(
                         e_end, r["gradient_spectrum"], weyl_levels(r)))),
                     "fraction of eigenvalues with |λ| ≤ δ: median": float(np.median(
                         counts_at(e_end, weyl_levels(r))["near_zero"] / e_end.shape[1])),
                     "refined point: ‖Hg‖/(‖g‖·max|λ|), median": float(np.median(hg_ref))})
    return table(rows)


def band_labels(loss: np.ndarray, gap: float = BAND_GAP) -> np.ndarray:
    """Loss bands (plateaus): sorted log10 losses split wherever two neighbours are more than
    ``gap`` apart; ``(R,)`` integer band of every run (0 = lowest losses)."""
    loss = np.asarray(loss, dtype=float)
    order = np.argsort(loss)
    jumps = np.diff(np.log10(loss[order])) > gap
    bands = np.empty(len(loss), dtype=int)
    bands[order] = np.concatenate([[0], np.cumsum(jumps)])
    return bands


def within_spearman(a: np.ndarray, b: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Spearman correlation of ``a`` and ``b`` within groups: both ranked within each group,
    centred there, and correlated pooled over groups (one group: the ordinary Spearman).
    NaN when no group has two runs that differ."""
    from scipy.stats import rankdata

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    groups = np.zeros(len(a), dtype=int) if groups is None else np.asarray(groups)
    ra, rb = np.zeros(len(a)), np.zeros(len(a))
    for g in np.unique(groups):
        m = groups == g
        x, y = rankdata(a[m]), rankdata(b[m])
        ra[m], rb[m] = x - x.mean(), y - y.mean()
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / den) if den > 0 else np.nan


def _controlled(ratio, loss, groups, resamples: int, seed: int) -> dict:
    """Within-group Spearman, its 95% bootstrap interval over runs and a two-sided
    permutation p-value (ratios shuffled within groups)."""
    rng = np.random.default_rng(seed)
    rho = within_spearman(ratio, loss, groups)
    if np.isnan(rho):
        return {"rho": rho, "low": np.nan, "high": np.nan, "p": np.nan}
    n = len(ratio)
    boot = []
    for _ in range(resamples):
        i = rng.integers(0, n, n)
        boot.append(within_spearman(ratio[i], loss[i], groups[i]))
    with warnings.catch_warnings():  # all-NaN resamples (no group with two runs)
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(boot, [2.5, 97.5])
    hits = 0
    for _ in range(resamples):
        shuffled = ratio.copy()
        for g in np.unique(groups):
            m = np.flatnonzero(groups == g)
            shuffled[m] = ratio[rng.permutation(m)]
        hits += abs(within_spearman(shuffled, loss, groups)) >= abs(rho) - 1e-12
    return {"rho": rho, "low": float(low), "high": float(high),
            "p": (1 + hits) / (1 + resamples)}


def correlation_table(results: dict, resamples: int = 1000, seed: int = 0):
    """Spearman correlation of the minimal ratio at the per-run Weyl bound with the loss, per
    task and activation: uncontrolled, within groups of runs with the same number of alive
    units (ReLU), and within loss bands (:func:`band_labels`); 95% bootstrap intervals over
    runs, permutation p-values (shuffled within groups) and their Holm correction over the
    table; the number of groups and of runs in groups of two or more (only those inform a
    within-group correlation), and a mark on rows whose interval is wider than 1.5 (they
    exclude almost nothing). The first ReLU row controlled for alive units is the one
    primary test."""
    rows = []
    for name, act, r in _each(results):
        ratio, loss = ratio_at_weyl(r), _losses(r)
        controls = [("none", np.zeros(len(loss), dtype=int))]
        if act == "relu":
            controls.append(("same alive units", np.array([d["alive_units"]
                                                          for d in r["dead"]])))
        bands = band_labels(loss)
        controls.append((f"same loss band ({bands.max() + 1} bands)", bands))
        for control, groups in controls:
            x = _controlled(ratio, loss, groups, resamples, seed)
            _, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
            rows.append({"runs": name, "controlled for": control,
                         "groups": len(sizes),
                         "runs in groups of ≥ 2": int((sizes[inverse] >= 2).sum()),
                         "Spearman [95% CI]": diff(x["rho"], x["low"], x["high"]),
                         "uninformative (CI wider than 1.5)":
                             "yes" if x["high"] - x["low"] > 1.5 else "",
                         "p (permutation)": x["p"]})
    p = np.array([row["p (permutation)"] for row in rows], dtype=float)
    tested = ~np.isnan(p)
    adjusted = np.full(len(p), np.nan)
    adjusted[tested] = holm(p[tested])
    for row, raw, q in zip(rows, p, adjusted, strict=True):
        row["p (permutation)"] = _p(raw, resamples)
        row["p (Holm)"] = _holm_p(q, raw, resamples)
    return table(rows)


def zero_table(per_activation: dict, cutoff: float = 1e-12):
    """Where the (numerically) exact zeros come from, per activation of one task at
    ``cutoff``: the near-zero count, how many eigenvalues lie below the rounding level
    P·eps·max|λ|, and for ReLU the dead-unit parameters, the near-zero count beyond them and
    the rank correlation of that excess with the dead-unit parameters (not of the near-zero
    count itself, which contains them)."""
    rows = []
    for act, r in per_activation.items():
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        zeros = counts(eig, cutoff)["near_zero"]
        floor = eig.shape[1] * np.finfo(np.float64).eps * np.abs(eig).max(1, keepdims=True)
        row = {"activation": label("main", act),
               f"near zero at λ_cut = {_cut(cutoff)}": _count(np.median(zeros)),
               "|λ| ≤ P·eps·max|λ|": _count(np.median((np.abs(eig) <= floor).sum(1))),
               "parameters of dead units": "", "near zero minus dead": "",
               "Spearman: (near zero − dead) vs dead": ""}
        if r["dead"]:
            dead = np.array([d["dead_parameters"] for d in r["dead"]])
            row.update({"parameters of dead units": _count(np.median(dead)),
                        "near zero minus dead": _median_range(zeros - dead),
                        "Spearman: (near zero − dead) vs dead": _spearman(zeros - dead, dead)})
        rows.append(row)
    return table(rows)


def summary(results: dict) -> dict[str, float]:
    """The few numbers a reader wants first, per task and activation: median minimal ratio at
    the Weyl bound, runs with index > 0 there, and the uncontrolled Spearman with the loss."""
    out = {}
    for name, _, r in _each(results):
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        c = counts_at(eig, weyl_levels(r))
        out[f"{name}: median ratio at δ"] = float(np.median(c["positive"] / eig.shape[1]))
        out[f"{name}: runs with index > 0 at δ"] = int((c["negative"] > 0).sum())
        out[f"{name}: Spearman ratio vs loss"] = _spearman(ratio_at_weyl(r), _losses(r))
    return out


def index_loss_line(per_activation: dict, cutoff: float = 1e-12, resamples: int = 2000,
                    seed: int = 0) -> str:
    """One task's Spearman correlation of the index (fraction of λ < −λ_cut·max|λ|) at the
    refined points with the loss at a relative cutoff, per activation, with its 95%
    bootstrap interval over runs, the median index of the lower- and the higher-loss half of
    the runs, and the share of those negative eigenvalues (pooled over runs) that are also
    negative beyond the same relative cutoff at the float32 end point (matched in sorted
    order: the k-th most negative at one point with the k-th most negative at the other),
    as printable lines."""
    parts = []
    for act, r in per_activation.items():
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        neg = counts(eig, cutoff)["negative"]
        neg_end = counts(np.asarray(r["eigenvalues"], dtype=float), cutoff)["negative"]
        index = neg / eig.shape[1]
        loss = _losses(r)
        low = loss <= np.median(loss)
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(loss), size=(resamples, len(loss)))
        ci = _percentile_ci([_spearman(index[i], loss[i]) for i in idx])
        kept = np.minimum(neg, neg_end).sum()
        parts.append(f"{label('main', act)}: Spearman {diff(_spearman(index, loss), *ci)}, "
                     f"median index {num(float(np.median(index[low])))} (lower-loss half) vs "
                     f"{num(float(np.median(index[~low])))} (higher-loss half); "
                     f"{int(kept)} of {int(neg.sum())} negative eigenvalues "
                     f"({num(kept / max(neg.sum(), 1))}) also negative at the end point")
    return f"index at λ_cut = {_cut(cutoff)} vs loss:\n" + "\n".join(parts)


def between_band_table(results: dict, resamples: int = 1000, seed: int = 0):
    """The loss correlation between plateaus instead of within them, per task and activation:
    the Spearman correlation of the band-mean minimal ratio (at the per-run Weyl bound) with
    the band-mean log10 loss over the loss bands (n = bands), with a 95% bootstrap interval
    over bands and a permutation p-value (band means shuffled); and the run-level Spearman
    with a cluster-bootstrap interval (whole bands resampled), which keeps every run but
    treats the runs of one plateau as one draw. Holm over the table's p-values."""
    rows = []
    for name, _, r in _each(results):
        ratio, loss = ratio_at_weyl(r), _losses(r)
        bands = band_labels(loss)
        ids = np.unique(bands)
        mean_ratio = np.array([ratio[bands == b].mean() for b in ids])
        mean_loss = np.array([np.log10(loss[bands == b]).mean() for b in ids])
        rng = np.random.default_rng(seed)
        rho = _spearman(mean_ratio, mean_loss)
        picks = rng.integers(0, len(ids), size=(resamples, len(ids)))
        low, high = _percentile_ci([_spearman(mean_ratio[i], mean_loss[i]) for i in picks])
        hits = sum(abs(_spearman(rng.permutation(mean_ratio), mean_loss)) >= abs(rho) - 1e-12
                   for _ in range(resamples))
        members = [np.flatnonzero(bands == b) for b in ids]
        cluster = []
        for i in picks:
            m = np.concatenate([members[j] for j in i])
            cluster.append(_spearman(ratio[m], loss[m]))
        c_low, c_high = _percentile_ci(cluster)
        rows.append({"runs": f"{name} ({len(loss)})", "bands": len(ids),
                     "Spearman of band means [95% CI over bands]": diff(rho, low, high),
                     "p (permutation over bands)": (1 + hits) / (1 + resamples),
                     "run-level Spearman [95% cluster-bootstrap CI]": diff(
                         _spearman(ratio, loss), c_low, c_high)})
    p = np.array([row["p (permutation over bands)"] for row in rows], dtype=float)
    for row, raw, q in zip(rows, p, holm(p), strict=True):
        row["p (permutation over bands)"] = _p(raw, resamples)
        row["p (Holm)"] = _holm_p(q, raw, resamples)
    return table(rows)


def cutoff_correlation_table(per_activation: dict, cutoffs: tuple[float, ...] = (
        0.0, 1e-12, 1e-8, 1e-6, 1e-4, 1e-2), resamples: int = 1000, seed: int = 0):
    """One task's Spearman correlation of the minimal ratio with the loss at every cutoff of
    :func:`cutoff_table` (rows, last row the per-run Weyl bound), per activation, with 95%
    bootstrap intervals over runs; for ReLU also within runs of equal alive units, and for
    both within loss bands (:func:`band_labels`: the plateau control). No multiplicity
    correction: this is a sensitivity analysis, not a set of tests.

    Args:
        per_activation: ``results[task]``.
    """
    columns = []
    for act, r in per_activation.items():
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        ratios = np.column_stack([ratio_vs_cutoff(eig, np.array(cutoffs)), ratio_at_weyl(r)])
        groups = [("", np.zeros(len(eig), dtype=int))]
        if act == "relu":
            groups.append((", same alive units", np.array([d["alive_units"]
                                                            for d in r["dead"]])))
        groups.append((", same loss band", band_labels(_losses(r))))
        for suffix, g in groups:
            columns.append((f"{label('main', act)}{suffix}: Spearman [95% CI]", ratios,
                            _losses(r), g))
    rows = []
    names = [f"λ_cut = {_cut(c)}" for c in cutoffs] + ["per-run Weyl bound δ"]
    for j, cut in enumerate(names):
        row = {"cutoff": cut}
        for column, ratios, loss, g in columns:
            rng = np.random.default_rng(seed)
            rho = within_spearman(ratios[:, j], loss, g)
            boot = []
            for _ in range(resamples):
                i = rng.integers(0, len(loss), len(loss))
                boot.append(within_spearman(ratios[i, j], loss[i], g[i]))
            row[column] = diff(rho, *_percentile_ci(boot))
        rows.append(row)
    return table(rows)


def _relative_delta(r: dict) -> np.ndarray:
    """Per run, the Weyl bound relative to the refined spectrum: δ/max|λ| ``(R,)``."""
    return weyl_levels(r) / np.abs(np.asarray(r["refined_eigenvalues"], dtype=float)).max(1)


def delta_lines(per_activation: dict) -> str:
    """One task's Spearman correlations, per activation, of the minimal ratio at the per-run
    Weyl bound with δ/max|λ| (how much of the ratio is the cutoff) and of δ/max|λ| with the
    loss (both with the relative δ), as printable lines."""
    lines = []
    for act, r in per_activation.items():
        rel = _relative_delta(r)
        lines.append(f"{label('main', act)}: Spearman(ratio at δ, δ/max|λ|) = "
                     f"{num(_spearman(ratio_at_weyl(r), rel))}; Spearman(δ/max|λ|, loss) = "
                     f"{num(_spearman(rel, _losses(r)))}")
    return "\n".join(lines)


def _boot_partial(a, b, c, resamples: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(resamples, len(a)))
    return _percentile_ci([partial_spearman(a[i], b[i], c[i]) for i in idx])


def delta_table(results: dict, resamples: int = 1000, seed: int = 0):
    """How much of the minimal ratio at the per-run Weyl bound δ is δ itself, per task and
    activation, all with the relative δ/max|λ|: Spearman over runs of the ratio at δ with
    δ/max|λ| and of δ/max|λ| with the loss; the ratio's Spearman with the loss, uncontrolled
    and as a partial Spearman given δ/max|λ| (:func:`partial_spearman`), each with a 95%
    bootstrap interval over runs."""
    rows = []
    for name, _, r in _each(results):
        ratio, loss, rel = ratio_at_weyl(r), _losses(r), _relative_delta(r)
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(loss), size=(resamples, len(loss)))
        plain = _percentile_ci([_spearman(ratio[i], loss[i]) for i in idx])
        rows.append({"runs": f"{name} ({len(loss)})",
                     "Spearman: ratio at δ vs δ/max|λ|": _spearman(ratio, rel),
                     "Spearman: δ/max|λ| vs loss": _spearman(rel, loss),
                     "Spearman: ratio at δ vs loss [95% CI]": diff(
                         _spearman(ratio, loss), *plain),
                     "partial Spearman given δ/max|λ| [95% CI]": diff(
                         partial_spearman(ratio, loss, rel),
                         *_boot_partial(ratio, loss, rel, resamples, seed))})
    return table(rows)


def rank_loss_table(per_activation: dict, cutoffs: tuple[float, ...] = (
        1e-12, 1e-8, 1e-6, 1e-4, 1e-2), resamples: int = 1000, seed: int = 0):
    """What the minimal ratio at a fixed cutoff counts, for one task: per cutoff (rows, last
    row the per-run Weyl bound δ) and activation, the Spearman correlation over runs of the
    ratio with rank G (= rank J) and, for ReLU, with the linear regions holding data; and the
    partial Spearman of the ratio with the loss given rank G, with a 95% bootstrap interval
    over runs. A first row gives rank G (and the regions) against the loss.

    Args:
        per_activation: ``results[task]``.
    """
    cols = {}
    for act, r in per_activation.items():
        eig = np.asarray(r["refined_eigenvalues"], dtype=float)
        rank = np.array([f["rank_gn"] for f in r["refined"]], dtype=float)
        regions = (np.array([f["regions"] for f in r["refined"]], dtype=float)
                   if act == "relu" else None)
        ratios = np.column_stack([ratio_vs_cutoff(eig, np.array(cutoffs)), ratio_at_weyl(r)])
        cols[act] = (ratios, rank, regions, _losses(r))
    names = [f"λ_cut = {_cut(c)}" for c in cutoffs] + ["per-run Weyl bound δ"]
    rows = []
    first = {"cutoff": "rank G (regions) vs loss"}
    for act, (_, rank, regions, loss) in cols.items():
        n = label("main", act)
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(loss), size=(resamples, len(loss)))
        first[f"{n}: vs rank G"] = diff(_spearman(rank, loss), *_percentile_ci(
            [_spearman(rank[i], loss[i]) for i in idx]))
        if regions is not None:
            first[f"{n}: vs regions"] = diff(_spearman(regions, loss), *_percentile_ci(
                [_spearman(regions[i], loss[i]) for i in idx]))
        first[f"{n}: vs loss given rank G [95% CI]"] = ""
    rows.append(first)
    for j, cut in enumerate(names):
        row = {"cutoff": cut}
        for act, (ratios, rank, regions, loss) in cols.items():
            n = label("main", act)
            row[f"{n}: vs rank G"] = num(_spearman(ratios[:, j], rank))
            if regions is not None:
                row[f"{n}: vs regions"] = num(_spearman(ratios[:, j], regions))
            row[f"{n}: vs loss given rank G [95% CI]"] = diff(
                partial_spearman(ratios[:, j], loss, rank),
                *_boot_partial(ratios[:, j], loss, rank, resamples, seed))
        rows.append(row)
    return table(rows)
