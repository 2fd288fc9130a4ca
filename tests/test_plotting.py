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
