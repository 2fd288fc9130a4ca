"""The minimal-ratio notebook's tables and figures, on synthetic spectra (no training)."""

import re

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hw1.experiments import minimal_ratio as mr  # noqa: E402
from hw1.plotting import MAX_WIDTH_PX, png_width  # noqa: E402
from hw1.report import MAX_ROWS  # noqa: E402


def _results(runs: int = 8, P: int = 24, seed: int = 0) -> dict:
    """Two activations' worth of ``run()`` output with random spectra spanning 1e-14..1."""
    rng = np.random.default_rng(seed)
    out = {}
    for act in ("relu", "tanh"):
        eig64 = rng.choice([-1.0, 1.0], (runs, P)) * 10.0 ** rng.uniform(-14, 0, (runs, P))
        eig64[:, 0] = 1.0  # max|λ| = 1 in every run
        eig32 = eig64 + rng.normal(scale=1e-6, size=(runs, P))
        loss = 10.0 ** rng.uniform(-4, -2, runs)
        grad = 10.0 ** rng.uniform(-6, -4, runs)
        refined = [{"loss": float(lo), "grad_norm": float(g), "converged": False,
                    "reason": "max_iter", "iterations": 40, "distance": 0.01}
                   for lo, g in zip(loss, grad, strict=True)]
        dead = ([{"dead_parameters": int(k), "dead_units": 1, "alive_units": 5}
                 for k in rng.integers(0, P // 2, runs)] if act == "relu" else [])
        out[act] = {"activation": act, "loss": list(loss), "grad_norm": list(grad * 10),
                    "converged": [True] * runs, "phase2_steps": [10] * runs,
                    "refined": refined, "dead": dead, "n_params": P,
                    "eigenvalues": eig32, "refined_eigenvalues": eig64}
    return out


def _tables(results: dict) -> dict[str, pd.DataFrame]:
    cut = mr.headline_cutoff(results)
    return {"refinement": mr.refinement_table(results),
            "resolution": mr.resolution_table(results),
            "cutoff": mr.cutoff_table(results),
            "count": mr.count_table(results, (1e-12, cut)),
            "zero": mr.zero_table(results),
            "loss_half": mr.loss_half_table(results, cut),
            "negative_curvature": mr.negative_curvature_table(results),
            "correlation": mr.correlation_table(results)}


def test_tables_are_short_dataframes_with_plain_column_names():
    snake = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")  # e.g. stable_tau_p90
    for name, frame in _tables(_results()).items():
        assert isinstance(frame, pd.DataFrame), name
        assert len(frame) <= MAX_ROWS, name
        assert not [c for c in frame.columns if snake.match(str(c))], (name, list(frame.columns))
        assert not any("τ" in str(c) or "tau" in str(c) for c in frame.columns), name


def test_cutoff_table_shows_the_median_ratio_of_the_sweep():
    results = _results()
    frame = mr.cutoff_table(results, cutoffs=(0.0, 1e-6))
    ratios = mr.ratio_vs_cutoff(results["relu"]["refined_eigenvalues"], np.array([0.0, 1e-6]))
    assert frame["cutoff λ_cut"].tolist() == ["0", "1e-6"]
    assert float(frame["ReLU: median ratio"].iloc[1]) == pytest.approx(
        np.median(ratios[:, 1]), rel=1e-2)


def test_count_table_cells_are_median_and_range_and_tanh_has_no_dead_units():
    results = _results()
    frame = mr.count_table(results, (1e-12,))
    c = mr.counts(results["relu"]["refined_eigenvalues"], 1e-12)["negative"]
    expected = f"{np.median(c):g} ({c.min()}–{c.max()})"
    assert frame["ReLU, λ_cut = 1e-12"].iloc[0] == expected
    assert frame["tanh, λ_cut = 1e-12"].iloc[3] == ""  # dead-unit row: ReLU only


def test_figures_fit_the_readme_width_and_are_all_returned(tmp_path):
    figures = mr.make_figures(_results())
    assert len(figures) == 3
    names = ["minimal_ratio_vs_tolerance", "minimal_ratio_vs_loss",
             "minimal_ratio_spectrum_histogram"]
    for name in names:
        assert png_width(tmp_path / "figures" / f"{name}.png") <= MAX_WIDTH_PX, name


def test_median_ratio_interval_brackets_the_median_of_each_activation():
    results = _results()
    line = mr.median_ratio_interval(results, 1e-6, resamples=200)
    ratios = mr.ratio_vs_cutoff(results["relu"]["refined_eigenvalues"], np.array([1e-6]))[:, 0]
    relu = line.split(";")[0]
    assert relu.startswith("ReLU ") and "tanh " in line
    median, low, high = (float(x) for x in re.findall(r"[\d.e-]+", relu.replace("ReLU", "")))
    assert low <= median <= high
    assert median == pytest.approx(np.median(ratios), rel=1e-2)
