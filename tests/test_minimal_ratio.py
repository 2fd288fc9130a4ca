"""The minimal-ratio notebook's tables, statistics and figures, on synthetic results (no
training), and its statistics against exact answers."""

import re

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from hw1.experiments import minimal_ratio as mr  # noqa: E402
from hw1.plotting import MAX_WIDTH_PX, png_width  # noqa: E402
from hw1.report import MAX_ROWS  # noqa: E402


def _one(act: str, task: str, runs: int, P: int, rng, deep: int) -> dict:
    eig64 = np.sort(rng.choice([-1.0, 1.0], (runs, P)) * 10.0 ** rng.uniform(-14, 0, (runs, P)), 1)
    eig64[:, -1] = 1.0  # max|λ| = 1 in every run
    eig32 = eig64 + rng.normal(scale=1e-6, size=(runs, P))
    loss = 10.0 ** rng.uniform(-4, -2, runs)
    grad = 10.0 ** rng.uniform(-6, -4, runs)
    refined = [{"loss": float(lo), "grad_norm": float(g), "converged": False,
                "reason": "max_iter", "iterations": 40, "accepted": 20, "distance": 0.01,
                "weyl": float(w), "hg_ratio": 0.01, "rank_gn": int(k), "res_lam_min_null": -1e-5,
                "regions": int(k)}
               for lo, g, w, k in zip(loss, grad, 10.0 ** rng.uniform(-7, -5, runs),
                                      rng.integers(5, 20, runs), strict=True)]
    dead = ([{"dead_parameters": int(k), "dead_units": 1, "alive_units": int(a)}
             for k, a in zip(rng.integers(0, P // 2, runs), rng.integers(3, 6, runs),
                             strict=True)] if act == "relu" else [])
    deep_rows = [{**refined[i], "grad_norm": 1e-7, "reason": "stalled"} for i in range(deep)]
    return {"task": task, "activation": act, "input_dim": 1 if task == "main" else 2,
            "n_points": 30, "loss": list(loss), "grad_norm": list(grad * 10),
            "converged": [True] * runs, "phase2_steps": [10] * runs,
            "end": [{"grad_norm": float(g) * 10, "hg_ratio": 0.1, "loss": float(lo)}
                    for g, lo in zip(grad, loss, strict=True)],
            "refined": refined, "deep": deep_rows, "dead": dead, "n_params": P,
            "eigenvalues": eig32, "refined_eigenvalues": eig64,
            "gn_eigenvalues": np.abs(eig64), "residual_eigenvalues": eig64 * 1e-3,
            "gradient_spectrum": rng.uniform(size=(runs, P)),
            "deep_eigenvalues": eig64[:deep] * 0.5,
            "deep_gradient_spectrum": rng.uniform(size=(deep, P))}


def _results(runs: int = 8, P: int = 24, seed: int = 0) -> dict:
    """``run()``-shaped output of both tasks and activations with random spectra."""
    rng = np.random.default_rng(seed)
    return {task: {act: _one(act, task, runs, P, rng, 3 if task == "main" else 0)
                   for act in ("relu", "tanh")} for task in ("main", "control")}


def _tables(results: dict) -> dict[str, pd.DataFrame]:
    return {"refinement": mr.refinement_table(results), "deep": mr.deep_table(results),
            "weyl": mr.weyl_table(results, resamples=100),
            "cutoff": mr.cutoff_table(results["main"]), "zero": mr.zero_table(results["main"]),
            "rank": mr.rank_table(results), "residual": mr.residual_table(results),
            "paired": mr.paired_table(results, resamples=50),
            "flatness": mr.flatness_table(results),
            "correlation": mr.correlation_table(results, resamples=50),
            "between_band": mr.between_band_table(results, resamples=50),
            "cutoff_correlation": mr.cutoff_correlation_table(results["main"], resamples=20),
            "delta": mr.delta_table(results, resamples=20),
            "rank_loss": mr.rank_loss_table(results["main"], resamples=20)}


def test_tables_are_short_dataframes_with_plain_column_names():
    snake = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")  # e.g. stable_tau_p90
    for name, frame in _tables(_results()).items():
        assert isinstance(frame, pd.DataFrame), name
        assert 0 < len(frame) <= MAX_ROWS, name
        assert not [c for c in frame.columns if snake.match(str(c))], (name, list(frame.columns))


def test_weyl_counts_use_each_runs_own_bound():
    eig = np.array([[-3e-6, -1e-7, 0.0, 2e-7, 5e-6, 1.0],
                    [-3e-6, -1e-7, 0.0, 2e-7, 5e-6, 1.0]])
    c = mr.counts_at(eig, [1e-6, 1e-8])
    assert c["negative"].tolist() == [1, 2] and c["positive"].tolist() == [2, 3]
    assert c["near_zero"].tolist() == [3, 1]
    r = {"refined_eigenvalues": eig, "refined": [{"weyl": 1e-6}, {"weyl": 1e-8}]}
    np.testing.assert_allclose(mr.ratio_at_weyl(r), [2 / 6, 3 / 6])


def test_null_share_of_the_gradient():
    eig = np.array([[1e-9, -1e-9, 1.0]])
    spec = np.array([[1.0, 3.0, 4.0]])  # ‖g‖² = 8, of which 4 on |λ| ≤ 1e-6
    assert mr.null_share(eig, spec, [1e-6])[0] == pytest.approx(0.5)


def test_within_spearman_is_spearman_for_one_group_and_removes_group_effects():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=40), rng.normal(size=40)
    assert mr.within_spearman(a, b) == pytest.approx(spearmanr(a, b).statistic)
    # two groups, each perfectly anti-correlated inside, but shifted so that pooled ranks
    # correlate positively: within groups the correlation is exactly −1
    x = np.array([1.0, 2, 3, 11, 12, 13])
    y = np.array([3.0, 2, 1, 13, 12, 11])
    groups = np.array([0, 0, 0, 1, 1, 1])
    assert spearmanr(x, y).statistic > 0
    assert mr.within_spearman(x, y, groups) == pytest.approx(-1.0)
    assert np.isnan(mr.within_spearman(x, y, np.arange(6)))  # singleton groups: undefined


def test_partial_spearman_removes_a_shared_driver():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=30), rng.normal(size=30)
    # a constant control leaves the ordinary Spearman
    assert mr.partial_spearman(a, b, np.ones(30)) == pytest.approx(spearmanr(a, b).statistic)
    # a and b both driven by c: strongly correlated, but not given c
    c = np.arange(30.0)
    x, y = c + 3 * rng.normal(size=30), c + 3 * rng.normal(size=30)
    assert spearmanr(x, y).statistic > 0.8
    assert abs(mr.partial_spearman(x, y, c)) < 0.5
    assert np.isnan(mr.partial_spearman(a, b, a))  # nothing left of a given itself


def test_between_band_table_correlates_band_means():
    results = _results(runs=12)
    r = results["main"]["tanh"]
    ratio = mr.ratio_at_weyl(r)
    # four well-separated loss plateaus whose mean ratio falls as the loss rises
    order = np.argsort(-ratio)
    loss = np.empty(12)
    loss[order] = np.repeat([1e-4, 1e-3, 1e-2, 1e-1], 3)
    for f, lo in zip(r["refined"], loss, strict=True):
        f["loss"] = float(lo)
    frame = mr.between_band_table({"main": {"tanh": r}}, resamples=50)
    assert int(frame["bands"].iloc[0]) == 4
    assert str(frame["Spearman of band means [95% CI over bands]"].iloc[0]).startswith("−1")


def test_index_and_delta_lines_print_one_line_per_activation():
    main = _results()["main"]
    assert mr.index_loss_line(main, resamples=20).count("also negative at the end point") == 2
    assert len(mr.delta_lines(main).splitlines()) == 2


def test_band_labels_split_at_gaps_in_log_loss():
    loss = np.array([1e-3, 1.01e-3, 2e-3, 2.02e-3, 1.005e-3, 5e-3])
    assert mr.band_labels(loss, gap=0.02).tolist() == [0, 0, 1, 1, 0, 2]


def test_paired_table_recovers_a_known_slope():
    res = _results(runs=12)
    r = res["main"]["relu"]
    rng = np.random.default_rng(0)
    drop = 10.0 ** rng.uniform(-2, 0, 12)  # ‖∇L‖ falls by this factor, |λ_min| by its square
    for f, e, d in zip(r["refined"], r["end"], drop, strict=True):
        f["grad_norm"] = e["grad_norm"] * d
    r["eigenvalues"] = np.abs(r["eigenvalues"])
    r["refined_eigenvalues"] = np.abs(r["refined_eigenvalues"])
    r["eigenvalues"][:, 0] = -1e-4
    r["refined_eigenvalues"][:, 0] = -1e-4 * drop ** 2
    r["deep"] = []
    frame = mr.paired_table({"main": {"relu": r}}, resamples=50)
    row = frame.iloc[0]
    assert float(row["slope Δlog|λ_min| / Δlog‖∇L‖"]) == pytest.approx(2.0, rel=1e-6)
    assert int(row["runs where |λ_min| fell"]) == 12


def test_cutoff_table_shows_the_median_ratio_of_the_sweep_and_the_weyl_row():
    results = _results()
    frame = mr.cutoff_table(results["main"], cutoffs=(0.0, 1e-6))
    ratios = mr.ratio_vs_cutoff(results["main"]["relu"]["refined_eigenvalues"],
                                np.array([0.0, 1e-6]))
    assert frame["cutoff"].tolist() == ["λ_cut = 0", "λ_cut = 1e-6", "per-run Weyl bound δ"]
    assert float(frame["ReLU: median ratio"].iloc[1]) == pytest.approx(
        np.median(ratios[:, 1]), rel=1e-2)


def test_figures_fit_the_readme_width_and_are_all_returned(tmp_path):
    figures = mr.make_figures(_results())
    assert len(figures) == 3
    names = ["minimal_ratio_vs_tolerance", "minimal_ratio_curvature_sources",
             "minimal_ratio_vs_loss"]
    for name in names:
        assert png_width(tmp_path / "figures" / f"{name}.png") <= MAX_WIDTH_PX, name


def test_p_values_at_the_permutation_floor_print_as_bounds():
    assert mr.analysis._p(1 / 1001, 1000) == "< 0.001"
    assert mr.analysis._holm_p(10 / 1001, 1 / 1001, 1000) == "≤ 0.01"
    assert mr.analysis._holm_p(4 / 1001, 1 / 1001, 1000) == "≤ 0.004"
    assert mr.analysis._p(0.5, 1000) == "0.500"


def test_counts_that_are_not_whole_print_with_three_significant_digits():
    assert mr.analysis._count(238.5) == "238"
    assert mr.analysis._count(13.5) == "13.5"
    assert mr.analysis._count(1341.0) == "1341"


def test_delta_table_uses_the_relative_bound_and_the_partial_spearman():
    results = _results(runs=12)
    r = results["main"]["relu"]
    frame = mr.delta_table({"main": {"relu": r}}, resamples=20)
    rel = mr.weyl_levels(r) / np.abs(r["refined_eigenvalues"]).max(1)
    loss = np.array([f["loss"] for f in r["refined"]])
    ratio = mr.ratio_at_weyl(r)
    assert float(str(frame["Spearman: δ/max|λ| vs loss"].iloc[0]).replace("−", "-")) == (
        pytest.approx(
        spearmanr(rel, loss).statistic, abs=1e-3))
    partial = mr.partial_spearman(ratio, loss, rel)
    shown = str(frame["partial Spearman given δ/max|λ| [95% CI]"].iloc[0]).split(" ")[0]
    assert float(shown.replace("−", "-")) == pytest.approx(partial, abs=2e-3)


def test_rank_loss_table_correlates_the_ratio_with_rank_g():
    results = _results(runs=12)
    main = results["main"]
    frame = mr.rank_loss_table(main, cutoffs=(1e-6,), resamples=20)
    r = main["relu"]
    ratio = mr.ratio_vs_cutoff(r["refined_eigenvalues"], np.array([1e-6]))[:, 0]
    rank = np.array([f["rank_gn"] for f in r["refined"]])
    assert frame["cutoff"].tolist() == ["rank G (regions) vs loss", "λ_cut = 1e-6",
                                        "per-run Weyl bound δ"]
    assert float(str(frame["ReLU: vs rank G"].iloc[1]).replace("−", "-")) == pytest.approx(
        spearmanr(ratio, rank).statistic, abs=2e-3)
