"""The double-descent package on small hand-made results: which width first fits (exactly
and by the robust criteria), the tables of the controls and the pre-registered comparison,
the label rows of each arm, the settings' checks, and the figures' pixel widths."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from hw1.experiments import double_descent  # noqa: E402
from hw1.experiments.double_descent import analysis  # noqa: E402
from hw1.experiments.double_descent.run import NOISE_SEED, _labels, _members  # noqa: E402
from hw1.experiments.random_labels import corrupt_labels  # noqa: E402
from hw1.paths import figures_dir  # noqa: E402
from hw1.plotting import MAX_WIDTH_PX, png_width  # noqa: E402

N_TEST = 20


def _smallest_text_pt(fig) -> float:
    """The smallest font size (pt) of any visible, non-empty text in ``fig`` after drawing."""
    from matplotlib.text import Text

    fig.canvas.draw()
    return min(t.get_fontsize() for t in fig.findobj(Text)
               if t.get_visible() and t.get_text().strip())


def _entry(w, tr, fi, te, seeds, arm="main", last=None, n_params=None):
    """One width: per seed the final train/test error and changed labels fitted; the history
    has records at epochs 0, 10, 20, 30 whose last three train errors are ``last[s]`` (default:
    the final value at all three)."""
    rows = []
    for i, s in enumerate(seeds):
        trail = last[i] if last is not None else [tr[i]] * 3
        rows.append({"arm": arm, "seed": s, "label_noise": 0.2, "noise_seed": NOISE_SEED,
                     "labels_changed": 0.2, "train_acc": 1 - tr[i], "test_acc": 1 - te[i],
                     "train_loss": tr[i], "test_loss": te[i], "noisy_labels_fitted": fi[i],
                     "history": {"epoch": [0, 10, 20, 30],
                                 "train_acc": [0.1] + [1 - t for t in trail],
                                 "test_acc": [0.1, 0.6, 0.7, 1 - te[i]],
                                 "train_loss": [2.0, 1.0, 0.5, tr[i]],
                                 "test_loss": [2.0, 1.0, 0.5, te[i]],
                                 "changed_fitted": [0.0, 0.5, fi[i], fi[i]],
                                 "unchanged_fitted": [0.1, 0.9, 1.0, 1.0]}})
    # image j is right iff j < (1 - test error) * N_TEST: nested sets, so the paired
    # differences over images are exact
    correct = np.array([[j < round((1 - t) * N_TEST) for j in range(N_TEST)] for t in te])
    return {"width": w, "n_params": n_params or 10 * w, "n_train": 5, "n_test": N_TEST,
            "num_classes": 5, "rows": rows, "test_correct": correct}


def _arm(train_errors, fitted, test_errors, seeds=(0, 1), arm="main", widths=(1, 2, 3, 4, 5),
         last=None):
    """Five widths (10·w parameters, n·K = 25), two seeds each."""
    entries = [_entry(w, tr, fi, te, seeds, arm, None if last is None else last[i])
               for i, (w, tr, fi, te) in enumerate(zip(widths, train_errors, fitted,
                                                       test_errors, strict=True))]
    return {"arm": arm, "dataset": "digits", "source": "digits", "n_train": 5, "n_test": N_TEST,
            "num_classes": 5, "threshold": 25, "label_noise": 0.2, "labels_changed": 0.2,
            "epochs": 30, "seeds": list(seeds), "widths": entries}


TRAIN = [[0.5, 0.4], [0.1, 0.0], [0.0, 0.01], [0.0, 0.0], [0.0, 0.0]]
FITTED = [[0.2, 0.1], [0.9, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
TEST = [[0.5, 0.5], [0.2, 0.3], [0.4, 0.5], [0.3, 0.3], [0.1, 0.2]]
RESULTS = _arm(TRAIN, FITTED, TEST)


def _whole():
    """A whole result: the main arm with a clean arm, a small-n arm and a confirmation arm
    (widths 3, 2, 5 pre-registered, seeds 10-12)."""
    out = dict(RESULTS)
    out["clean"] = _arm([[0.0, 0.0]] * 3, [[float("nan")] * 2] * 3,
                        [[0.3, 0.3], [0.2, 0.2], [0.1, 0.1]], arm="clean", widths=(2, 3, 5))
    small = _arm(TRAIN, FITTED, [[0.6, 0.6], [0.5, 0.5], [0.3, 0.3], [0.4, 0.4], [0.2, 0.2]],
                 arm="small_n")
    small["n_train"], small["threshold"] = 3, 15
    out["small_n"] = small
    out["confirm"] = _arm([[0.0] * 3] * 3, [[1.0] * 3] * 3,
                          [[0.3, 0.3, 0.4], [0.4, 0.5, 0.6], [0.1, 0.1, 0.1]], seeds=(10, 11, 12),
                          arm="confirm", widths=(2, 3, 5))
    out["confirm_widths"] = [3, 2, 5]
    return out


def test_first_width_needs_every_seed():
    exact = analysis.criteria()
    names = list(exact)
    assert analysis.first_width(RESULTS, exact[names[3]])[0]["width"] == 3  # every changed
    assert analysis.first_width(RESULTS, exact[names[2]])[0]["width"] == 4  # exactly 0
    assert analysis.first_width(RESULTS, exact[names[2]])[1] is True  # holds from 4 on
    assert analysis.first_width(RESULTS, lambda e: False) == (None, False)


def test_robust_criterion_averages_the_last_three_records():
    # width 2: one seed 0 at the end but 0.006 one record earlier: mean 0.002 > 0.001;
    # width 3: 0.0024, 0, 0 -> 0.0008, met; width 4: a spike at the middle record (0.0045)
    last = [[[0.5] * 3, [0.4] * 3], [[0.0, 0.006, 0.0], [0.0, 0.0, 0.0]],
            [[0.0024, 0.0, 0.0], [0.0, 0.0, 0.0]], [[0.0, 0.0045, 0.0], [0.0, 0.0, 0.0]],
            [[0.0] * 3, [0.0] * 3]]
    res = _arm(TRAIN, FITTED, TEST, last=last)
    np.testing.assert_allclose(analysis.last_records(res["widths"][1], "train_error"),
                               [0.002, 0.0], atol=1e-12)
    rows = {r["where"][:20]: r for r in analysis.thresholds(res)}
    robust = rows["train error ≤ 0.1%, "]
    assert robust["width"] == 3 and robust["holds at every larger width"] is False
    assert analysis.robust_interpolation(res)["width"] == 3


def test_landmarks_keep_parameter_counts_whole(capsys):
    # two seeds: the rise of width 3 above width 2 (+0.2) has a Welch interval including 0
    table = double_descent.landmarks(RESULTS)
    assert list(table["width"])[:2] == ["none resolved", "none resolved"]
    assert "best candidate, width 3" in capsys.readouterr().out
    tight = _arm(TRAIN, FITTED, [[0.5, 0.5], [0.2, 0.21], [0.4, 0.41], [0.3, 0.3], [0.1, 0.2]])
    table = double_descent.landmarks(tight)
    assert list(table["width"])[:1] == ["3"]
    assert list(table["params"])[-1] == "25"
    assert list(table["params / n·K"])[-1] == "1.00"
    assert list(table["params / n·K"])[0] == "1.20"
    rising = _arm([[0.0, 0.0]] * 5, [[1.0, 1.0]] * 5,
                  [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.4, 0.4], [0.5, 0.5]])
    none = double_descent.landmarks(rising)
    assert list(none["width"])[:2] == ["none", "none"] and list(none["params"])[:2] == ["", ""]


def test_shown_tables_use_the_shared_formats():
    summary = double_descent.summary(RESULTS)
    assert summary[3]["train error, % (noisy labels)"] == "0.000 ± 0.000"
    assert summary[1]["changed labels fitted, %"].startswith("95.000 ± ")
    assert summary[0]["train loss"] == "0.450 ± 0.635"  # plain, same decimals
    assert summary[0]["test error"] == "0.500 ± 0"
    peaks = double_descent.peak_table(RESULTS)
    assert list(peaks["peak width"]) == ["3"] * 6  # error and loss are equal here
    assert peaks["over seeds [95% CI]"].iloc[0].startswith("+0.200 [")
    assert peaks["difference"].iloc[2] == "width 5 − width 2"
    # the image rows: nested correct sets, so every bootstrap resample of the 20 images has
    # the same sign; peak (mean error 0.45) − width 2 (0.25) = +0.2 exactly
    assert peaks[analysis.IMAGES_CI].iloc[0].startswith("+0.200 [")
    assert analysis.IMAGES_P in peaks.columns and peaks[analysis.IMAGES_P].iloc[3] == ""
    by_epoch = double_descent.error_by_epoch(RESULTS, "train_error")
    assert list(by_epoch["epoch"]) == ["10", "20", "30"]
    assert list(by_epoch.columns) == ["epoch"] + [f"width {w}" for w in (1, 2, 3, 4, 5)]
    assert by_epoch["width 3"].iloc[-1] == "0.00500"
    over = double_descent.peaks_over_epochs(RESULTS)
    assert list(over["peak width"]) == ["none", "none", "3"]


def test_summary_table_shows_every_width_when_they_fit(capsys):
    shown = double_descent.summary_table(RESULTS)
    assert len(shown) == 5
    assert (figures_dir() / "tables" / "double_descent_by_width.csv").is_file()
    assert "5 of 5 rows shown" in capsys.readouterr().out


def test_confirmation_compares_the_preregistered_widths():
    whole = _whole()
    rows = analysis.confirmation(whole)
    assert [r["comparison"] for r in rows] == ["width 3 − width 2", "width 3 − width 5"]
    assert [r["role"] for r in rows] == ["primary", "secondary"]
    assert rows[0]["welch"]["difference"] == pytest.approx(0.5 - 1 / 3)
    assert rows[0]["images"]["difference"] == pytest.approx(0.5 - 1 / 3)
    assert rows[1]["holm_p"] >= rows[1]["p"]
    mc = double_descent.confirmation_mcnemar_table(whole)
    assert len(mc) == 6 and list(mc["seed"]) == ["10", "11", "12"] * 2
    # seed 10: width 3 has 12 right (images 0-11), width 2 has 14 right: b = 0, c = 2
    assert list(mc["b (first right only)"])[:1] == ["0"]
    assert list(mc["c (second right only)"])[:1] == ["2"]
    assert list(mc["error difference"])[:1] == ["0.100"]


def test_control_tables():
    whole = _whole()
    clean = double_descent.clean_control_table(whole)
    assert list(clean["width"]) == ["2", "3", "5"]
    assert clean["noisy − clean [95% CI]"].iloc[1].startswith("+0.250 [")  # 0.45 − 0.2
    sizes = double_descent.sizes_table(whole)
    assert list(sizes["n"]) == ["3", "5"]
    assert list(sizes["best candidate width"]) == ["4", "3"]
    assert list(sizes["its params / n·K"]) == ["2.67", "1.20"]
    assert list(sizes["test-error peak"]) == ["4", "none resolved"]
    assert list(sizes["first interpolating width"]) == ["4", "4"]  # width 3: one seed 0.01


def test_label_rows_of_each_arm():
    cfg = double_descent.Config(widths=(2, 6, 20, 100), clean_widths=(6, 20),
                                confirm_widths=(20, 6), small_n_widths=(4,), small_n=100,
                                n_train=200)
    main = _members(cfg, 200, 20)
    assert [m["arm"] for m in main] == ["main"] * 3 + ["clean"] * 3 + ["confirm"] * 5
    assert [m["arm"] for m in _members(cfg, 200, 2)] == ["main"] * 3
    assert [m["arm"] for m in _members(cfg, 100, 4)] == ["small_n"] * 3
    y = torch.arange(50) % 10
    labels = _labels(y, 10, main)
    assert labels.shape == (11, 50)
    assert torch.equal(labels[3], y)  # clean
    expected = corrupt_labels(y, 0.2, 10, torch.Generator().manual_seed(NOISE_SEED))
    assert torch.equal(labels[0], expected) and torch.equal(labels[2], expected)
    assert not torch.equal(labels[6], expected)  # the second noise draw


@pytest.mark.parametrize("bad", [{"confirm_widths": (20, 7)}, {"clean_widths": (7,)},
                                 {"confirm_seeds": (0, 11)}, {"small_n": 4000},
                                 {"confirm_widths": (20,)}, {"widths": (4, 2)}])
def test_config_rejects_bad_arms(bad):
    with pytest.raises(ValueError):
        double_descent.Config(**bad)


@pytest.mark.parametrize("name", ["double_descent", "double_descent_controls",
                                  "double_descent_over_training"])
def test_figures_are_saved_narrow_enough_for_the_readme(name):
    figures = double_descent.make_figures(_whole())
    assert len(figures) == 3
    width = png_width(figures_dir() / f"{name}.png")
    assert width <= MAX_WIDTH_PX
    if name == "double_descent":  # the README figure: text still >= 9 pt at 880 px
        assert _smallest_text_pt(figures[0]) * 880 / width >= 9
        assert [ax.get_title() for ax in figures[0].axes[:3]] == [
            "(a) error, whole scale", "(b) test error, zoomed", "(c) cross-entropy"]
    plt.close("all")


def test_plain_and_percent_formats_keep_one_notation():
    assert analysis.plain_pm([0.000728, 0.000700, 0.000756]) == "0.000728 ± 0.000070"
    assert analysis.plain_pm([0.0, 0.0]) == "0 ± 0"
    assert analysis.percent_pm([0.9986, 1.0, 1.0]) == "99.953 ± 0.201"
    assert analysis.percent(0.0005) == "0.050"


def test_tolerance_table_moves_with_the_cutoff():
    # width 2: seed errors 0.1 and 0.0 -> passes 20%; width 3: 0.0 and 0.01 -> passes 2%;
    # a spike at one record of width 4 (0.03): the median ignores it, the mean does not
    last = [[[0.5] * 3, [0.4] * 3], [[0.1] * 3, [0.0] * 3], [[0.0] * 3, [0.01] * 3],
            [[0.0, 0.03, 0.0], [0.0] * 3], [[0.0] * 3, [0.0] * 3]]
    res = _arm(TRAIN, FITTED, TEST, last=last)
    t = analysis.tolerance_table(res, tolerances=(0.2, 0.02, 0.001))
    assert len(t) == 9
    keys = zip(t["ε"], t["train error taken as"], strict=True)
    first = dict(zip(keys, t["first width (every seed)"], strict=True))
    assert first[("20.0%", "mean of last 3 records")] == "2"
    assert first[("2.0%", "mean of last 3 records")] == "3"
    assert first[("0.1%", "mean of last 3 records")] == "5"
    assert first[("0.1%", "median of last 3 records")] == "4"
    with pytest.raises(ValueError):
        analysis.last_records(res["widths"][0], "train_error", how="max")


def test_early_stopping_table(capsys):
    table = analysis.early_stopping_table(RESULTS)
    # first record (epoch 10): test error 0.4 at every width; last: the TEST means
    assert list(table["test error, epoch 10"]) == ["0.400 ± 0"] * 5
    assert table["epoch 10 − epoch 30 [95% CI]"].iloc[0].startswith("−0.100 [")
    out = capsys.readouterr().out
    assert "lowest mean test error at epoch 30: 0.150 (width 5)" in out
    assert "0 of 5 widths are below it" in out
