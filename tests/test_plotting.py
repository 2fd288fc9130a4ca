import hashlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hw1.paths import REPO_ROOT, figures_dir, runs_dir  # noqa: E402
from hw1.plotting import band, save_figure  # noqa: E402


def _fig():
    fig, ax = plt.subplots()
    band(ax, np.arange(4), np.array([[1, 2, 3, 4], [2, 3, 4, 5.0]]), label="x")
    return fig


def test_save_figure_is_named_by_content_and_byte_stable(tmp_path):
    path = save_figure(_fig(), "loss_vs_epoch")
    assert path == tmp_path / "figures" / "loss_vs_epoch.png"
    first = hashlib.sha256(path.read_bytes()).hexdigest()
    save_figure(_fig(), "loss_vs_epoch")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == first  # no volatile metadata
    plt.close("all")


@pytest.mark.parametrize("name", ["fig3.png", "figures/loss", "Loss Curve", ""])
def test_save_figure_rejects_names_that_are_not_content_names(name):
    with pytest.raises(ValueError, match="snake_case"):
        save_figure(_fig(), name)
    plt.close("all")


def test_smoke_profile_never_targets_committed_figures_or_full_store(monkeypatch):
    monkeypatch.delenv("HW1_FIGURES_DIR")
    monkeypatch.delenv("HW1_RUNS_DIR")
    assert figures_dir() == REPO_ROOT / ".smoke" / "figures"
    assert runs_dir() == REPO_ROOT / ".smoke" / "runs"
    monkeypatch.setenv("HW1_PROFILE", "full")
    assert figures_dir() == REPO_ROOT / "figures"
    assert runs_dir() == REPO_ROOT / "data" / "runs"


def test_band_is_the_95_percent_t_interval_over_seeds():
    from scipy import stats

    from hw1.plotting import t_band

    runs = np.array([[1.0, 2.0, 5.0], [2.0, 4.0, np.nan], [4.0, 9.0, np.nan]])
    mean, low, high = t_band(runs)
    # column 0: mean 7/3, sd sqrt(7/3), half = t_{0.975,2} * sd / sqrt(3)
    half = stats.t.ppf(0.975, 2) * np.sqrt(7 / 3) / np.sqrt(3)
    assert mean[0] == pytest.approx(7 / 3) and high[0] - mean[0] == pytest.approx(half)
    assert low[0] == pytest.approx(7 / 3 - half)
    assert (low[2], mean[2], high[2]) == (5.0, 5.0, 5.0)  # one run: no band


def test_a_figure_too_wide_for_the_readme_is_refused_but_still_written(tmp_path):
    from hw1.plotting import MAX_WIDTH_PX, png_width

    fig, ax = plt.subplots(figsize=(16, 3))
    ax.plot([0, 1], [0, 1])
    with pytest.raises(ValueError, match="px wide"):
        save_figure(fig, "too_wide")
    path = tmp_path / "figures" / "too_wide.png"
    assert png_width(path) > MAX_WIDTH_PX
    assert save_figure(fig, "too_wide", wide_ok=True) == path
    plt.close("all")


def test_committed_figures_read_at_readme_width():
    from hw1.plotting import MAX_WIDTH_PX, png_width

    wide = {p.name: png_width(p) for p in (REPO_ROOT / "figures").glob("*.png")
            if png_width(p) > MAX_WIDTH_PX}
    assert not wide, f"figures wider than {MAX_WIDTH_PX} px: {wide}"
