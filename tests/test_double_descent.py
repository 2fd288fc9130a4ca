"""Tables and figures of the double-descent notebook on small hand-made results: which
width first fits, the formatting of the shown tables, and the figures' pixel widths."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from hw1.experiments import double_descent  # noqa: E402
from hw1.paths import figures_dir  # noqa: E402
from hw1.plotting import MAX_WIDTH_PX, png_width  # noqa: E402


def _results(train_errors, fitted, test_errors):
    """Five widths (10·w parameters, n·K = 25), two seeds each, three recorded epochs."""
    widths = []
    for w, tr, fi, te in zip((1, 2, 3, 4, 5), train_errors, fitted, test_errors, strict=True):
        rows = [{"seed": s, "train_acc": 1 - tr[s], "test_acc": 1 - te[s],
                 "train_loss": tr[s], "test_loss": te[s], "noisy_labels_fitted": fi[s],
                 "history": {"epoch": [0, 10, 20, 30],
                             "train_acc": [0.1, 0.5, 0.9, 1 - tr[s]],
                             "test_acc": [0.1, 0.6, 0.7, 1 - te[s]]}}
                for s in range(2)]
        widths.append({"width": w, "n_params": 10 * w, "rows": rows})
    return {"dataset": "digits", "source": "digits", "n_train": 5, "num_classes": 5,
            "threshold": 25, "label_noise": 0.2, "labels_changed": 0.2, "epochs": 30,
            "widths": widths}


RESULTS = _results(train_errors=[[0.5, 0.4], [0.1, 0.0], [0.0, 0.01], [0.0, 0.0], [0.0, 0.0]],
                   fitted=[[0.2, 0.1], [0.9, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]],
                   test_errors=[[0.5, 0.5], [0.2, 0.3], [0.4, 0.5], [0.3, 0.3], [0.1, 0.2]])


def test_first_width_needs_every_seed_exactly():
    assert double_descent.first_width(RESULTS, "noisy_labels_fitted", 1.0)["width"] == 3
    assert double_descent.first_interpolating(RESULTS)["width"] == 4
    assert double_descent.first_width(RESULTS, "test_error", 0.0) is None


def test_landmarks_keep_parameter_counts_whole():
    table = double_descent.landmarks(RESULTS)
    assert list(table["width"]) == ["3", "3", "3", "4", ""]
    assert list(table["params"]) == ["30", "30", "30", "40", "25"]
    assert list(table["params / n·K"]) == ["1.20", "1.20", "1.20", "1.60", "1.00"]
    rising = _results([[0.0, 0.0]] * 5, [[1.0, 1.0]] * 5,
                      [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.4, 0.4], [0.5, 0.5]])
    none = double_descent.landmarks(rising)
    assert list(none["width"])[:2] == ["none", "none"] and list(none["params"])[:2] == ["", ""]


def test_shown_tables_use_the_shared_formats():
    summary = double_descent.summary(RESULTS)
    assert summary[3]["train error (noisy labels)"] == "0 ± 0"
    assert summary[0]["test error"] == "0.500 ± 0"
    peaks = double_descent.peak_table(RESULTS)
    assert list(peaks["peak width"]) == ["3"] * 6  # error and loss are equal here
    assert peaks["difference [95% CI]"].iloc[0].startswith("+0.200 [")
    assert peaks["difference"].iloc[2] == "width 5 − width 2"
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


@pytest.mark.parametrize("name", ["double_descent", "double_descent_over_training"])
def test_figures_are_saved_narrow_enough_for_the_readme(name):
    figures = double_descent.make_figures(RESULTS)
    assert len(figures) == 2
    assert png_width(figures_dir() / f"{name}.png") <= MAX_WIDTH_PX
    plt.close("all")
