"""Notebook 09's tables and figures on small synthetic results: exact barriers, cells in the
shared 3-significant-digit format, at most 12 rows per table, figures narrow enough."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

from hw1.experiments import interpolation  # noqa: E402
from hw1.plotting import MAX_WIDTH_PX, png_width  # noqa: E402
from hw1.report import MAX_ROWS, ci, num  # noqa: E402

ALPHAS = np.array([-1.0, 0.0, 0.5, 1.0, 2.0])
T = np.linspace(-1, 1, 5)


def _smallest_text_pt(fig) -> float:
    """The smallest font size (pt) of any visible, non-empty text in ``fig`` after drawing."""
    from matplotlib.text import Text

    fig.canvas.draw()
    return min(t.get_fontsize() for t in fig.findobj(Text)
               if t.get_visible() and t.get_text().strip())


def _results(seeds=(0, 1, 2)):
    """Every pair's train loss is a bump of height 0.1·(r + 1)·(pair index + 1) at α = 0.5 on
    a chord from 0.01 to 0.02 (after weight matching: half that); line curves are
    L(t) = c·t² + 0.01 with c = 1 + k + r + 0.1·k·r (k: endpoint kind index, r: seed index)."""
    rng = np.random.default_rng(0)
    curves = {}
    for p, pair in enumerate(interpolation.PAIRS):
        per_seed = []
        for r in range(len(seeds)):
            loss = 0.01 + 0.01 * ALPHAS + np.where(ALPHAS == 0.5, 0.1 * (r + 1) * (p + 1), 0.0)
            per_seed.append({"train_loss": loss.tolist(), "test_loss": (loss + 0.2).tolist(),
                             "train_acc": (1 - loss / 10).tolist(),
                             "test_acc": (0.95 - loss / 10).tolist(),
                             "distance": 10.0 + r})
        curves[pair] = per_seed
        if "independent" in pair:
            curves[pair + interpolation.ALIGNED] = [
                {**c, "train_loss": (0.01 + 0.01 * ALPHAS + np.where(
                    ALPHAS == 0.5, 0.05 * (r + 1) * (p + 1), 0.0)).tolist(), "distance": 5.0}
                for r, c in enumerate(per_seed)]
    endpoints, lines = {}, {}
    cfg = interpolation.Config.resolve("full")
    for k, kind in enumerate(interpolation.ENDPOINTS):
        endpoints[kind] = {"setting": cfg.endpoint(kind), "rows": [
            {"seed": s, "steps": 100 + s, "epochs": 3, "reached": True,
             "train_loss": 0.009 + 0.0001 * s, "test_loss": 0.2 + rng.normal(0, 0.01),
             "train_acc": 1.0, "test_acc": 0.95 + rng.normal(0, 0.003),
             "weight_norm": 15.0 + k + rng.normal(0, 0.5)} for s in seeds],
            "full_test_correct": rng.uniform(size=(len(seeds), 200)) < 0.9 + 0.01 * k}
        lines[kind] = [{"train_loss": ((1 + k + r + 0.1 * k * r) * T**2 + 0.01).tolist(),
                        "test_loss": ((1 + k + r + 0.1 * k * r) * T**2 + 0.2).tolist()}
                       for r in range(len(seeds))]
    return {"dataset": "mnist", "source": "MNIST (test copy)", "criterion": "train loss ≤ 0.01",
            "line_directions": 5, "endpoints": endpoints, "alphas": ALPHAS.tolist(),
            "curves": curves, "t": T.tolist(), "lines": lines}


def test_barrier_is_the_bump_above_the_chord():
    res = _results()
    for p, pair in enumerate(interpolation.PAIRS):
        assert interpolation._barriers(res, pair) == pytest.approx(
            [0.1 * (r + 1) * (p + 1) for r in range(3)])


def test_tables_are_dataframes_in_the_shared_format():
    res = _results()
    pairs = interpolation.pair_table(res)
    barrier = interpolation._barriers(res, "batch size, same init")
    assert pairs.loc[pairs["pair"] == "batch size, same init",
                     "train-loss barrier"].item() == ci(barrier)
    line = interpolation.line_table(res)
    # base: ΔL = c·0.25 with c = 1, 2, 3: geometric mean and the t interval of log10 ΔL
    logs = np.log10([0.25, 0.5, 0.75])
    half = stats.t.ppf(0.975, 2) * logs.std(ddof=1) / np.sqrt(3)
    assert line["ΔL_train at |t|=0.5"].iloc[0] == (
        f"{num(10 ** logs.mean())} [{num(10 ** (logs.mean() - half))}, "
        f"{num(10 ** (logs.mean() + half))}]")
    multiple = 10 ** np.mean(np.log10([(c * 0.25 + 0.01) / 0.01 for c in (1, 2, 3)]))
    assert line["L_train(|t|=0.5) / L_train(0)"].iloc[0].startswith(f"{num(multiple)} [")
    radius = interpolation.flatness_radius_table(res)
    # L = c·t² + 0.01: the ratio of increases is the same at both radii
    assert (radius["ΔL_train ratio, same init (paired)"].iloc[0]
            == radius["ΔL_train ratio, same init (paired)"].iloc[1])
    outer = interpolation.outer_loss_table(res)
    assert list(outer.columns) == ["pair", "train loss at α=−1", "α=−1: lowest–highest seed",
                                   "train loss at α=2", "α=2: lowest–highest seed"]
    assert outer["α=2: lowest–highest seed"].iloc[0] == "0.0300–0.0300"  # 0.01 + 0.01·2, all seeds
    assert "train loss at α=0" not in pairs.columns  # the base endpoint's, in endpoint_table
    names = interpolation.endpoint_table(res)["endpoint"].tolist()
    assert "control (base, independent init)" in names
    diffs = interpolation.differences_from_base(res)
    # large_batch (k = 1) over base (k = 0): the line increase ratio is (2 + 1.1·r) / (1 + r)
    row = diffs[diffs["quantity"] == "ΔL_train ratio at |t|=0.5"].iloc[0]
    ratio = 10 ** np.mean(np.log10([2 / 1, 3.1 / 2, 4.2 / 3]))
    assert row["same init"].startswith(f"×{num(ratio)} [") and row["same init"].endswith(
        "(primary)")
    aligned = interpolation.alignment_table(res)
    assert len(aligned) == 3 and aligned["change: Holm p"].notna().all()
    assert aligned["matched − same init: Holm p"].iloc[0] == "—"  # the control has no partner
    barrier = interpolation._barriers(res, "batch size, independent init")
    assert aligned["barrier, units matched"].iloc[1] == ci(barrier / 2)
    for frame in (interpolation.endpoint_table(res), pairs, interpolation.barrier_differences(res),
                  line, outer, diffs, aligned, radius):
        assert isinstance(frame, pd.DataFrame) and len(frame) <= MAX_ROWS


def test_figures_read_at_the_readme_width(tmp_path):
    figs = interpolation.make_figures(_results())
    assert len(figs) == 3
    names = ("interpolation_curves", "interpolation_accuracy_curves",
             "interpolation_filter_normalized_lines")
    for name in names:
        assert png_width(tmp_path / "figures" / f"{name}.png") <= MAX_WIDTH_PX
    loss_axes = figs[0].axes
    assert loss_axes[0].get_shared_y_axes().joined(loss_axes[0], loss_axes[4])  # one y-axis
    # the README figure: text that stays >= 9 pt at 880 px, a legend of what is drawn only
    width = png_width(tmp_path / "figures" / "interpolation_curves.png")
    assert _smallest_text_pt(figs[0]) * 880 / width >= 9
    assert loss_axes[0].get_ylabel().startswith("cross-entropy")
    legend = [t.get_text() for ax in loss_axes for leg in [ax.get_legend()] if leg
              for t in leg.get_texts()]
    assert len(legend) == 5 and not any("capped" in t for t in legend)
    plt.close("all")
