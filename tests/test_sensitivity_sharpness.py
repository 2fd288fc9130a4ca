"""Notebook 10's display tables and figures on synthetic results: one row per gap and measure,
step-cap legend entries only when a run hit the cap, figures narrow enough for the README."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from hw1.experiments import sensitivity_sharpness as ss
from hw1.paths import figures_dir
from hw1.plotting import MAX_WIDTH_PX, png_width


def _smallest_text_pt(fig) -> float:
    """The smallest font size (pt) of any visible, non-empty text in ``fig`` after drawing."""
    from matplotlib.text import Text

    fig.canvas.draw()
    return min(t.get_fontsize() for t in fig.findobj(Text)
               if t.get_visible() and t.get_text().strip())


KEYS = ("train_loss", "test_loss", "train_acc", "test_acc", *ss.MEASURES,
        "sharpness_small_eps", "sharpness_raw_small_eps")


def _results(capped: bool = False) -> dict:
    """2 regimes x 3 batch sizes x 3 seeds, and a scaled-rate arm at 2 batch sizes, of
    made-up values (positive, batch-dependent)."""
    rng = np.random.default_rng(0)
    rows = []
    for regime in ss.REGIMES:
        for bs in ((128, 512) if regime == "criterion_scaled_lr" else (16, 128, 512)):
            for seed in range(3):
                r = {k: float(rng.uniform(0.5, 1.5) * np.log2(bs)) for k in KEYS}
                r["sharpness_raw_small_eps"] = r["sharpness_raw"] / rng.uniform(2, 4)
                reached = None if regime == "equal_epochs" else not (capped and seed == 0)
                rows.append({"regime": regime, "batch": bs, "seed": seed, "steps": 100 + seed,
                             "epochs": 2, "reached": reached, "lr": 1e-3, **r,
                             "full_test_correct": rng.uniform(size=50) < 0.9,
                             "gap_loss": r["test_loss"] - r["train_loss"],
                             "gap_acc": r["train_acc"] - r["test_acc"]})
    return {"batch_sizes": [16, 128, 512], "scaled_batch_sizes": [128, 512], "dataset": "digits",
            "source": "synthetic",
            "criterion": "train loss ≤ 0.3, at most 300 optimizer steps", "n_params": 10,
            "epsilons": [1e-3, 5e-4], "max_steps": 300, "rows": rows}


def test_tables_show_every_tau_in_one_row_per_gap_and_measure():
    results = _results()
    taus = ss.rank_correlations(results, resamples=20)
    table = ss.rank_table(taus)
    assert len(taus) == 36 and table.shape == (12, 5)
    assert list(table["gap"][:6]) == ["accuracy gap"] * 6
    assert list(table.columns[2:]) == ["τ [95% CI], both regimes pooled (18)",
                                       "τ [95% CI], equal epochs (9)",
                                       "τ [95% CI], criterion (9)"]
    cell = table.iloc[0, 2]  # "+0.1 [−0.2, 0.3]": τ with its interval
    assert cell.count("[") == 1 and cell.endswith("]")
    assert ss.confound_table(ss.confounds(results, resamples=20)).shape == (8, 5)
    acc = ss.stratified_table(results, permutations=50)
    assert acc.shape == (7, 5)  # 6 measures and the train-loss reference, per gap
    assert acc.iloc[-1, 2].endswith("(unadjusted)") and acc.iloc[0, 2].endswith("(Holm)")
    assert ss.stratified_table(results, "gap_loss", permutations=50).shape == (7, 5)
    with pytest.raises(ValueError, match="gap must be"):
        ss.stratified_table(results, "test_acc")
    assert len(ss.training_table(results)) == len(ss.measure_table(results)) == 8
    assert len(ss.epsilon_scaling(results)) == 6
    assert "Holm p (seeds)" in ss.batch_differences(results).columns
    scaled = ss.scaled_lr_table(results)
    assert len(scaled) == 4 and "Holm p (images)" in scaled.columns
    measures = ss.scaled_measure_table(results)
    assert len(measures) == len(ss.MEASURES) + 1
    steps = measures.iloc[-1]  # the same steps in both arms (100 + seed): ratio 1, untested
    assert steps["batch 512: Holm p"] == "—" and steps["quantity"] == "optimizer steps"
    assert steps["batch 512: scaled / fixed lr [95% CI]"].startswith("×1.00 [")


def test_stratified_tau_counts_only_pairs_within_a_stratum():
    # two strata; across them x and y both jump (that association must not count)
    x = np.array([1.0, 2.0, 3.0, 10.0, 11.0, 12.0])
    y = np.array([3.0, 2.0, 1.0, 30.0, 20.0, 10.0])  # within each stratum: reversed
    strata = np.array([0, 0, 0, 1, 1, 1])
    t = ss.stratified_tau(x, y, strata, permutations=500)
    assert t["tau"] == -1.0 and t["pairs"] == 6
    # brute force: tau-a over the within-stratum pairs
    y2 = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 6.0])
    pairs = [(i, j) for i in range(6) for j in range(i + 1, 6) if strata[i] == strata[j]]
    brute = np.mean([np.sign(x[i] - x[j]) * np.sign(y2[i] - y2[j]) for i, j in pairs])
    assert ss.stratified_tau(x, y2, strata)["tau"] == pytest.approx(brute)
    # permutation p: with 3! = 6 orders per stratum, tau = -1 has null probability 2/36
    assert t["p"] == pytest.approx(2 / 36, abs=0.03)
    with pytest.raises(ValueError, match="no stratum holds two"):
        ss.stratified_tau(x[:2], y[:2], np.array([0, 1]))


@pytest.mark.parametrize("capped", [False, True])
def test_figures_fit_the_readme_and_mark_the_step_cap_only_when_a_run_hit_it(capped):
    results = _results(capped)
    figs = ss.make_figures(results, ss.rank_correlations(results, resamples=20))
    for name in ("sensitivity_sharpness_vs_batch_size", "sharpness_epsilon_scaling",
                 "flatness_vs_generalization_gap"):
        assert png_width(figures_dir() / f"{name}.png") <= MAX_WIDTH_PX
    legends = [t.get_text() for fig in figs for leg in fig.legends for t in leg.get_texts()]
    assert ("run that hit the step cap" in legends) == capped
    assert ("hollow: hit the step cap" in legends) == capped
    assert figs[2].axes[0].get_ylabel() == "accuracy gap\n(train − test)"
    width = png_width(figures_dir() / "flatness_vs_generalization_gap.png")
    assert _smallest_text_pt(figs[2]) * 880 / width >= 9  # still >= 9 pt at 880 px
    assert all("\n" not in ax.get_title(loc) for ax in figs[2].axes
               for loc in ("left", "right"))  # one-line panel titles
    plt.close("all")


def test_vectorized_kendall_tau_b_equals_scipy_with_ties_and_its_bootstrap_rows():
    from scipy import stats

    rng = np.random.default_rng(3)
    x = rng.integers(0, 5, size=(40, 12)).astype(float)  # many ties
    y = rng.integers(0, 4, size=(40, 12)).astype(float)
    taus = ss.kendall_tau_b(x, y)
    for r in range(40):
        assert taus[r] == pytest.approx(stats.kendalltau(x[r], y[r]).statistic, abs=1e-12)
    assert np.isnan(ss.kendall_tau_b(np.ones(5), np.arange(5.0)))
    tau, low, high = ss.kendall_with_interval(x[0], y[0], resamples=300, seed=1)
    idx = np.random.default_rng(1).integers(0, 12, size=(300, 12))
    loop = [stats.kendalltau(x[0][i], y[0][i]).statistic for i in idx]
    assert (low, high) == pytest.approx(tuple(np.nanpercentile(loop, [2.5, 97.5])), abs=1e-12)
    assert low <= tau <= high
