"""HW1-3 experiment helpers against exact answers: per-model labels in the stacked ensemble,
label corruption, the criteria the configs build, Kendall τ intervals, the flattening check,
the α grid and the double-descent peak."""

import importlib

import numpy as np
import pytest
import torch

from hw1.ensemble import train_ensemble
from hw1.experiments import (
    double_descent,
    interpolation,
    params_vs_generalization,
    random_labels,
    sensitivity_sharpness,
)
from hw1.experiments.params_vs_generalization import analysis as pvg_analysis
from hw1.models import mlp
from hw1.report import holm, num
from hw1.training import train


def _model(seed):
    torch.manual_seed(seed)
    return mlp(5, (8,), 3)


def test_ensemble_with_per_model_labels_equals_separate_runs():
    g = torch.Generator().manual_seed(0)
    x, xt = torch.randn(60, 5, generator=g), torch.randn(20, 5, generator=g)
    y = torch.randint(0, 3, (2, 60), generator=g)  # model r trains on y[r]
    yt = torch.randint(0, 3, (20,), generator=g)
    hists, _ = train_ensemble([_model(0), _model(1)], x, y, xt, yt, epochs=3, batch_size=16,
                              lr=1e-2, seeds=[3, 4])
    for r in range(2):
        alone = train(_model(r), x, y[r], xt, yt, epochs=3, batch_size=16, lr=1e-2, seed=3 + r)
        assert hists[r].train_loss == pytest.approx(alone.train_loss, rel=1e-5)
        assert hists[r].test_acc == alone.test_acc


def test_ensemble_rejects_labels_of_the_wrong_shape():
    x = torch.randn(10, 5)
    with pytest.raises(ValueError, match=r"one row per model"):
        train_ensemble([_model(0), _model(1)], x, torch.zeros(3, 10, dtype=torch.long),
                       epochs=1, batch_size=5, lr=1e-2, seeds=[0, 1])


@pytest.mark.parametrize("fraction", [0.0, 0.25, 1.0])
def test_corrupt_labels_replaces_exactly_the_drawn_positions(fraction):
    y = torch.arange(400) % 10
    out = random_labels.corrupt_labels(y, fraction, 10, torch.Generator().manual_seed(1))
    again = random_labels.corrupt_labels(y, fraction, 10, torch.Generator().manual_seed(1))
    assert torch.equal(out, again) and torch.equal(y, torch.arange(400) % 10)  # y untouched
    assert out.min() >= 0 and out.max() <= 9
    changed = (out != y).float().mean().item()
    assert changed <= fraction  # only the round(fraction·N) drawn positions can change
    if fraction == 0:
        assert changed == 0
    if fraction == 1.0:  # uniform draws keep the true class about 1/10 of the time
        assert 0.85 < changed < 0.95
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        random_labels.corrupt_labels(y, 1.5, 10, torch.Generator())


@pytest.mark.parametrize("module, overrides, match", [
    (random_labels, {"target_train_acc": 99.0}, "fraction in"),
    (random_labels, {"target_train_acc": 0.0}, "must be positive"),
    (random_labels, {"corruption": (0.0, 1.2)}, r"\[0, 1\]"),
    (sensitivity_sharpness, {"target_train_loss": 0.0}, "must be positive"),
    (sensitivity_sharpness, {"max_steps": 0}, "must be positive"),
    (sensitivity_sharpness, {"epsilons": (5e-4, 1e-3)}, "larger first"),
    (interpolation, {"target_train_loss": -1.0}, "must be positive"),
    (interpolation, {"seeds": (0,)}, "at least 2 seeds"),
    (params_vs_generalization, {"fit_acc": 1.5}, "fraction"),
    (params_vs_generalization, {"flat_epochs": 50}, "below epochs"),
    (double_descent, {"label_noise": 1.0}, r"\[0, 1\)"),
    (double_descent, {"widths": (8, 4)}, "increasing"),
])
def test_invalid_criteria_and_settings_are_rejected_when_the_config_is_built(module, overrides,
                                                                             match):
    with pytest.raises(ValueError, match=match):
        module.Config.resolve("full", **overrides)


def test_configs_build_the_stated_criteria():
    c = sensitivity_sharpness.Config.resolve("full").criterion()
    assert (c.train_loss_at_most, c.train_acc_at_least, c.max_steps) == (0.01, None, 20_000)
    assert interpolation.Config.resolve("full").criterion() == c  # 09 uses 10's criterion
    r = random_labels.Config.resolve("full").criterion()
    assert (r.train_loss_at_most, r.train_acc_at_least) == (None, 0.99)


def test_kendall_with_interval_on_monotone_and_reversed_data():
    x = np.arange(12.0)
    tau, low, high = sensitivity_sharpness.kendall_with_interval(x, x ** 3, resamples=200)
    assert (tau, low, high) == pytest.approx((1.0, 1.0, 1.0))
    tau, low, high = sensitivity_sharpness.kendall_with_interval(x, -x, resamples=200)
    assert (tau, low, high) == pytest.approx((-1.0, -1.0, -1.0))
    # one discordant pair out of C(4, 2) = 6: τ = (5 − 1) / 6
    tau, _, _ = sensitivity_sharpness.kendall_with_interval(np.array([1., 2, 3, 4]),
                                                            np.array([1., 2, 4, 3]), 50)
    assert tau == pytest.approx(4 / 6)


def test_flattening_is_the_relative_drop_over_the_last_epochs():
    row = {"train_loss_curve": [[4.0, 2.0, 1.0, 0.5], [1.0, 1.0, 1.0, 1.0]]}
    assert pvg_analysis._flattening(row, 2).tolist() == [0.75, 0.0]
    # recorded every 2 epochs: epochs 0, 2, 4, 6; 2 epochs before the end is epoch 4
    sparse = {**row, "curve_epochs": [0, 2, 4, 6]}
    assert pvg_analysis._flattening(sparse, 2).tolist() == [0.5, 0.0]


def test_alpha_grid_holds_both_endpoints_and_fine_steps_around_them():
    cfg = interpolation.Config.resolve("full")
    grid = cfg.alpha_grid()
    assert np.all(np.diff(grid) > 0) and grid[0] == -1 and grid[-1] == 2
    for a in (0.0, 1.0):
        near = grid[np.abs(grid - a) <= 0.1 + 1e-9]
        assert a in grid and np.allclose(np.diff(near), 0.01)


def _dd_results(test_errors):
    widths = []
    for w, errs in zip((1, 2, 3, 4, 5), test_errors, strict=True):
        widths.append({"width": w, "n_params": 10 * w,
                       "rows": [{"test_acc": 1 - e, "test_loss": e} for e in errs]})
    return {"threshold": 25, "widths": widths}


def test_double_descent_peak_finds_the_peak_after_the_classical_optimum():
    res = _dd_results([[0.5, 0.5], [0.2, 0.3], [0.4, 0.5], [0.6, 0.7], [0.1, 0.2]])
    rows = double_descent.peak(res)
    # the local maximum at width 4 (0.65) rises most above the minimum before it (width 2)
    assert [r["peak width"] for r in rows] == [4, 4]
    assert rows[0]["difference"] == pytest.approx(0.65 - 0.25)
    assert rows[1]["difference"] == pytest.approx(0.65 - 0.15)
    assert rows[0]["peak params / nK"] == pytest.approx(40 / 25)
    rising = _dd_results([[0.5, 0.5], [0.2, 0.3], [0.4, 0.5], [0.6, 0.7], [0.8, 0.9]])
    assert double_descent.peak(rising) == []  # no interior local maximum
    # a bump at width 3, then a rise to the end (not a local maximum): the bump is the peak
    bump = _dd_results([[0.5, 0.5], [0.3, 0.3], [0.35, 0.35], [0.1, 0.1], [0.6, 0.6]])
    rows = double_descent.peak(bump)
    assert [r["peak width"] for r in rows] == [3, 3]
    assert rows[0]["difference"] == pytest.approx(0.05)


def test_every_new_experiment_is_listed():
    from hw1.experiments import EXPERIMENTS
    assert EXPERIMENTS[-1] == "double_descent"
    importlib.import_module("hw1.experiments.double_descent")


def test_paired_difference_is_the_one_sample_t_interval_of_the_differences():
    from scipy import stats
    a, b = np.array([1.0, 2.5, 3.0, 4.5]), np.array([0.5, 2.0, 3.5, 3.0])
    d = a - b
    half = stats.t.ppf(0.975, 3) * d.std(ddof=1) / 2
    got = interpolation.paired_difference(a, b)
    assert got["difference"] == pytest.approx(d.mean())
    assert (got["ci95_low"], got["ci95_high"]) == pytest.approx((d.mean() - half,
                                                                 d.mean() + half))
    assert got["excludes_0"] is False


def test_directions_are_drawn_apart_from_the_initializations():
    # the old bug: Generator(seed) for the direction repeated torch.manual_seed(seed)'s draws
    from hw1.metrics import filter_normalized_direction
    torch.manual_seed(0)
    model = mlp(30, (20,), 5)
    name, weight = next((n, p) for n, p in model.named_parameters() if p.dim() == 2)

    def corr(gen):
        d = filter_normalized_direction(model, gen)[name].flatten()
        return abs(float(torch.corrcoef(torch.stack([weight.detach().flatten(), d]))[0, 1]))

    assert corr(torch.Generator().manual_seed(0)) > 0.2  # coupled: what the test guards
    assert corr(torch.Generator().manual_seed(interpolation.DIRECTION_SEED)) < 0.1


def _corruption_results():
    """Two corruption levels, 3 seeds each, with histories reaching 90% and 99% at known
    epochs (control: 1 and 2; p = 1: 4 and 6, 5 and 7, 6 and 8); at p = 1 half of the
    changed labels are memorized 2 epochs before 90% overall, 90% of them at 90% overall."""
    def run(e90, e99, acc, seed, level):
        epochs = list(range(e99 + 1))
        train = [0.99 if e >= e99 else 0.9 if e >= e90 else 0.5 for e in epochs]
        changed = [float("nan")] * len(epochs) if level == 0 else [
            0.99 if e >= e99 else 0.9 if e >= e90 else 0.5 if e >= e90 - 2 else 0.1
            for e in epochs]
        return {"seed": seed, "epochs": e99, "reached": True, "test_acc": acc, "history":
                {"epoch": epochs, "train_acc": train, "train_loss": [1.0] * len(epochs),
                 "acc_changed": changed, "acc_unchanged": [0.95] * len(epochs)}}
    return {"levels": {0.0: [run(1, 2, 0.9, s, 0) for s in range(3)],
                       1.0: [run(6, 8, 0.11, 2, 1), run(4, 6, 0.1, 0, 1),
                             run(5, 7, 0.12, 1, 1)]}}


def test_random_labels_tables_time_the_first_crossing_of_each_threshold():
    res = _corruption_results()
    times = random_labels.epochs_to_reach(res)
    # identical whole epochs get no zero-width interval; t(2) · 1 / √3 = 2.48
    assert list(times["to 90%"]) == ["1 (all 3 seeds)", "5.00 ± 2.5"]
    assert list(times["÷ control (99%)"]) == ["1.00", "3.50"]
    steps = random_labels.level_differences(res)
    assert list(steps["levels"]) == ["1 − 0", "1 − 0"] and len(steps) == 2
    assert steps["difference [95% CI]"].iloc[0].startswith("+4.00 [")
    # paired by seed (matched by seed, not by order): differences 3, 4, 5 at 90%
    assert steps["paired by seed [95% CI]"].iloc[0] == "+4.00 [1.52, 6.48]"
    # Holm within each threshold (90%: 6, 4, 5 vs 1, 1, 1; 99%: 8, 6, 7 vs 2, 2, 2): one
    # step per threshold here, so each family of one leaves its Welch p-value unchanged
    from scipy import stats
    p = [stats.ttest_ind(a, b, equal_var=False).pvalue
         for a, b in (([6, 4, 5], [1, 1, 1]), ([8, 6, 7], [2, 2, 2]))]
    assert list(steps["Holm p"]) == [num(v) for v in p]
    assert num(holm(p)[0]) != num(p[0])  # (a single family of both would differ)
    control = random_labels.differences_from_control(res, "test error")
    assert control["CI excludes 0"].iloc[0] == "yes"
    # one level: Holm over one test leaves the Welch p-value unchanged
    err = stats.ttest_ind([0.89, 0.9, 0.88], [0.1, 0.1, 0.1], equal_var=False).pvalue
    assert control["Holm p"].iloc[0] == num(err)
    assert "over images [95% CI]" not in control  # no per-image correctness stored
    fit = random_labels.differences_from_control(res)
    assert fit["p − control [95% CI]"].iloc[0].startswith("+5.00 [")
    with pytest.raises(ValueError, match="quantity"):
        random_labels.differences_from_control(res, "test loss")


def test_random_labels_test_error_difference_is_paired_over_test_images():
    res = _corruption_results()
    g = np.random.default_rng(1)
    res["test_correct"] = {0.0: g.random((3, 500)) < 0.9, 1.0: g.random((3, 500)) < 0.1}
    control = random_labels.differences_from_control(res, "test error")
    exact = res["test_correct"][0.0].mean() - res["test_correct"][1.0].mean()  # error rise
    assert control["over images [95% CI]"].iloc[0].startswith(f"+{num(exact)} [")
    # no replicate crosses 0: p at its resolution 2 / N_BOOT, printed as an upper bound
    assert control["over images: Holm p"].iloc[0] == f"≤ {num(2 / random_labels.analysis.N_BOOT)}"


def test_random_labels_summary_splits_fit_and_accuracy_and_dashes_the_control():
    res = _corruption_results()
    for level, rows in res["levels"].items():
        for r in rows:
            r.update(labels_changed=0.9 * level, train_acc=0.99, train_loss=0.01,
                     train_acc_true_labels=0.9, test_loss=1.0)
    fit = random_labels.summary(res)
    assert list(fit.columns) == ["p", "labels changed", "runs that fit", "epochs run",
                                 "÷ control"]
    assert fit["labels changed"].iloc[0] == "—"
    acc = random_labels.summary(res, "accuracy")
    assert "test error" in acc and "labels changed" not in acc


def test_random_labels_times_memorization_of_the_changed_labels_on_its_own():
    res = _corruption_results()
    times = random_labels.changed_label_times(res)
    assert list(times["p"]) == ["1"]  # the control has no changed labels
    # 50% of the changed labels 2 epochs before 90% overall: seeds at 4, 2, 3
    assert times["epochs to 50% of changed"].iloc[0] == "3.00 ± 2.5"
    assert times["epochs to 90% of changed"].iloc[0] == "5.00 ± 2.5"
    assert times["changed memorized at 90% overall"].iloc[0].startswith("0.900 ± ")
    assert times["changed memorized at fit"].iloc[0].startswith("0.990 ± ")
    steps = random_labels.level_differences(res, random_labels.CHANGED_THRESHOLDS,
                                            "acc_changed")
    assert len(steps) == 0  # one corrupted level: no step between corrupted levels


def test_params_tables_show_one_row_per_width_pair_with_welch_cells():
    def row(width, acc, loss):
        return {"width": width, "n_params": 10 * width, "test_acc": acc, "test_loss": loss}
    res = {"mnist": {"source": "MNIST", "rows": [
        row(2, [0.5, 0.6, 0.55], [2.0, 2.1, 2.2]), row(4, [0.8, 0.81, 0.82], [1.0, 1.1, 1.0]),
        row(8, [0.8, 0.81, 0.82], [1.5, 1.6, 1.5])]}}
    cons = params_vs_generalization.consecutive_differences(res, "mnist")
    assert list(cons["widths"]) == ["4 − 2", "8 − 4"]
    assert cons["test acc [95% CI]"].iloc[0].startswith("+0.260 [")
    # Holm over the 2 rows: the smaller p doubles, the larger stays (≥ the doubled one)
    from scipy import stats
    p = [stats.ttest_ind(a, b, equal_var=False).pvalue for a, b in
         (([0.8, 0.81, 0.82], [0.5, 0.6, 0.55]), ([0.8, 0.81, 0.82], [0.8, 0.81, 0.82]))]
    assert cons["test acc: Holm p"].iloc[0] == num(2 * p[0])
    assert cons["test acc: Holm p"].iloc[1] == num(max(p[1], 2 * p[0]))
    low = params_vs_generalization.differences_from_lowest_test_loss(res)
    assert list(low["widths"]) == ["8 − 4"] and list(low["dataset"]) == ["MNIST"]


def test_params_comparisons_are_paired_over_test_images_and_primary_per_budget():
    g = np.random.default_rng(0)

    def row(width, acc, train_acc):
        correct = g.random((3, 400)) < acc  # (seeds, images)
        return {"width": width, "n_params": 10 * width, "train_acc": [train_acc] * 3,
                "train_loss": [0.1] * 3, "test_loss": [1.0 + acc + 0.01 * s for s in range(3)],
                "test_acc": correct.mean(1).tolist(), "test_correct": correct}
    rows = [row(2, 0.5, 0.5), row(4, 0.7, 0.995), row(8, 0.9, 1.0)]
    res = {"mnist": {"source": "MNIST", "rows": rows, "check_rows": rows, "fit_acc": 0.99,
                     "epochs": 20, "check_epochs": 40, "n_train": 100, "num_classes": 10}}
    assert params_vs_generalization.n_times_k(res["mnist"]) == 1000
    primary = params_vs_generalization.primary_comparisons(res)
    assert list(primary["widths"]) == ["8 − 4", "8 − 4"]  # widest − first fitting, per budget
    exact = rows[2]["test_correct"].mean() - rows[1]["test_correct"].mean()
    assert primary["over images [95% CI]"].iloc[0].startswith(f"+{num(exact)} [")
    # no replicate crosses 0: p stands at its resolution 2 / N_BOOT = 0.001, Holm over the
    # primary family (here two comparisons) doubles it; printed as an upper bound
    assert list(primary["over images: Holm p"]) == ["≤ 0.00200", "≤ 0.00200"]
    assert pvg_analysis._p_cell(float("nan")) == "n/a"
    cons = params_vs_generalization.consecutive_differences(res, "mnist", "check")
    assert list(cons["over images: Holm p"]) == ["≤ 0.00200", "≤ 0.00200"]
    counts = params_vs_generalization.doubling_counts(res)
    assert list(counts["doublings"]) == ["2", "2", "4"]
    assert list(counts["mean test acc rises"]) == ["2", "2", "4"]
    assert list(counts["resolved over images (Holm)"]) == ["2", "2", "4"]
    low = params_vs_generalization.lowest_test_loss_range(res)
    assert list(low["lowest mean test loss at width"]) == ["2", "2"]
    assert list(low["widths not resolved from it"]) == ["2", "2"]


def test_doubling_counts_use_the_adjusted_numbers_not_their_printed_rounding():
    from hw1.experiments.params_vs_generalization.analysis import _holm_resolved

    key = "test acc: p"
    rows = [{key: 0.01}, {key: 0.03}, {key: (0.001, True)}, {"widths": "no test"}]
    assert _holm_resolved(rows, key) == 3  # Holm: 0.003, 0.02, 0.03
    # Holm p = 2 x 0.0249995 = 0.049999, printed "0.0500" at 3 significant digits: resolved
    assert _holm_resolved([{key: 0.0249995}, {key: 0.2}], key) == 1
    assert _holm_resolved([{key: float("nan")}], key) == "n/a"
    assert _holm_resolved(rows, "over images: p") == "n/a"
