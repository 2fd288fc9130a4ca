"""HW1-1 tables and figures (notebooks 01 and 02), on small made-up results: no training."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hw1.experiments import simulate_function as sf  # noqa: E402
from hw1.experiments import train_actual_task as tat  # noqa: E402
from hw1.plotting import MAX_WIDTH_PX, png_width  # noqa: E402
from hw1.report import MAX_ROWS  # noqa: E402


def _fit(loss, reason):
    return {"loss": loss, "start_loss": 2 * loss, "grad_norm": 1e-3, "converged": True,
            "reason": reason, "iterations": 12, "accepted": 5,
            "loss_trace": [1.5 * loss, 1.2 * loss, loss]}


def _simulated():
    grid = np.linspace(-1, 1, 41)
    results = {}
    for fn in ("sinc", "square_wave"):
        results[fn] = {}
        for depth, losses in ((1, [0.1, 0.2, 0.3]), (2, [0.05, 0.5, 1e-4]),
                              (5, [1e-6, 0.3, 1e-5])):
            results[fn][depth] = {
                "steps": [0, 5, 10], "adam_loss_curves": [[1.0, 0.5, 0.2]] * 3,
                "lrs": [0.01, 0.1], "seeds": [0, 1, 2], "selection_seeds": [100],
                "best_lr": 0.1, "selection_final_loss": [[0.3], [0.2]],
                "fits": [_fit(losses[0], "converged"), _fit(losses[1], "stalled"),
                         _fit(losses[2], "converged")],
                "constant_mse": 1.0,
                "linear_pieces": [10 * depth, 10 * depth + 4, 10 * depth + 2],
                "n_params": 300 + depth, "widths": [8] * depth, "grid": grid,
                "predictions": np.zeros((3, len(grid)))}
    return results


def test_simulate_function_tables_are_short_labelled_dataframes(tmp_path):
    results = _simulated()
    summary = sf.summary(results, 0.01)
    assert isinstance(summary, pd.DataFrame) and len(summary) == 6 <= MAX_ROWS
    assert summary[("finish ended in (seeds)", "stalled")].tolist() == ["1"] * 6
    # threshold 0.01: depth 1 none of 3, depth 2 one (1e-4), depth 5 two (1e-6, 1e-5)
    assert summary[("success", "seeds")].tolist() == ["0 of 3", "1 of 3", "2 of 3"] * 2
    # Wilson upper bound at 0 of 3: z²/(n + z²) = 0.5615
    assert summary[("success", "probability [95% Wilson]")].iloc[0] == "0 [0, 0.561]"
    comparison = sf.depth_comparison(results, 0.01)
    assert len(comparison) == 6
    assert comparison[("success probability", "difference")].iloc[1] == "0.667"  # 5 − 1
    assert comparison[("activation regions", "difference [95% CI]")].iloc[1].startswith(
        "+40.0 [")
    assert list(sf.lr_table(results).columns) == ["target", "hidden layers", "lr 0.01",
                                                  "lr 0.1", "chosen lr", "at grid edge",
                                                  "runner-up ÷ chosen median"]
    assert sf.lr_table(results)["at grid edge"].eq("highest").all()
    finish = sf.finish_table(results)
    assert finish["plateau"].tolist() == ["2"] * 6
    rows = sf.per_seed_rows(results, 0.01)
    assert len(rows) == 18 and sum(r["success"] for r in rows) == 6
    # no seed hit the step cap: nothing to measure, shown as "–"
    assert finish["step cap: largest |MSE change|, last 50 kept steps (%)"].eq("–").all()
    flip = sf.flip_check(results, 0.01, deep=5, shallow=1)
    # 2 of 3 against 0 of 3: Fisher p = 0.4 (exact: C(3,2)C(3,0)/C(6,2) = 0.2, two-sided 0.4);
    # Holm over the two targets: 0.8. Not significant, so the fragile flip widens the gap:
    # 3 of 3 against 0 of 3, p = 2 · C(3,3)C(3,0)/C(6,3) = 0.1; Holm with the other target's
    # 0.4 unchanged: 2 · 0.1 = 0.2, still not below 0.05
    assert flip["Fisher p"].tolist() == ["0.400"] * 2
    assert flip["Holm p"].tolist() == ["0.800"] * 2
    assert flip["one seed flipped"].tolist() == ["one more success, deeper: 3 of 3 vs 0 of 3"] * 2
    assert flip["Fisher p, flipped"].tolist() == ["0.100"] * 2
    assert flip["Holm p, flipped"].tolist() == ["0.200"] * 2
    assert flip["answer changes"].tolist() == ["no"] * 2


def test_one_seed_flips_go_toward_the_fragile_side():
    from hw1.experiments.simulate_function.analysis import _fisher, _one_seed_flips

    # 6 of 10 against 0 of 10: C(10,6)/C(20,6) = 210/38760, doubled by symmetry = 0.010836
    assert abs(_fisher(6, 10, 0, 10) - 2 * 210 / 38760) < 1e-12
    # apart: one more deep success (the shallow arm has none to lose)
    assert [f[:2] for f in _one_seed_flips(5, 10, 0, 10, widen=True)] == [(6, 0)]
    # together: one fewer deep success or one more shallow one
    assert [f[:2] for f in _one_seed_flips(6, 10, 0, 10, widen=False)] == [(5, 0), (6, 1)]
    # the shallower depth leads: widening takes a deep success away or adds a shallow one
    # a tie counts the deeper depth as leading
    assert [f[:2] for f in _one_seed_flips(9, 10, 9, 10, widen=True)] == [(10, 9), (9, 8)]
    assert [f[:2] for f in _one_seed_flips(8, 10, 9, 10, widen=True)] == [(7, 9), (8, 10)]


def test_rate_selection_rule_takes_the_lowest_median_and_ignores_diverged_runs():
    losses = np.array([[0.1, 0.5, 0.4], [0.3, 0.2, 0.25], [np.nan, 0.01, 0.01]])
    # medians: 0.4, 0.25, and row 2 has a diverged run (inf) -> median 0.01 still lowest
    assert sf.choose_rate(losses) == 2
    losses[2] = [np.nan, np.nan, 0.01]  # median inf
    assert sf.choose_rate(losses) == 1


def test_selection_and_evaluation_seeds_must_differ():
    import pytest

    with pytest.raises(ValueError, match="disjoint"):
        sf.Config.resolve(selection_seeds=(0,), seeds=(0, 1))


def test_simulate_function_figures_fit_the_readme_and_list_only_drawn_endings(tmp_path):
    results = _simulated()
    results["square_wave"][5]["predictions"][1, 7] = -9.5  # one seed far below the target
    figs = sf.make_figures(results)
    clipped = figs[1].axes[5]  # square wave, 5 hidden layers
    assert clipped.get_ylim() == figs[1].axes[1].get_ylim() == (-2.2, 2.2)
    assert "clipped (1 seed, marker): −9.50" in clipped.get_title()
    assert "clipped" not in figs[1].axes[1].get_title()
    for name in ("simulate_function_predictions", "simulate_function_training_loss",
                 "simulate_function_success"):
        assert png_width(tmp_path / "figures" / f"{name}.png") <= MAX_WIDTH_PX
    labels = [t.get_text() for t in figs[2].axes[2].get_legend().get_texts()]
    assert "end: plateau" in labels and "end: stalled" in labels
    assert "end: step cap" not in labels  # no run hit the cap, so no marker for it
    plt.close("all")


def _history(acc):
    epochs = list(range(len(acc)))
    return {"epoch": epochs, "train_loss": [2.0 - a for a in acc], "train_acc": acc,
            "test_loss": [2.1 - a for a in acc], "test_acc": [a - 0.01 for a in acc],
            "step_loss": [], "step_grad_norm": []}


def _trained():
    def family(depth, final):
        rng = np.random.default_rng(depth)
        labels = np.arange(1000) % 10
        predictions = np.stack([np.where(rng.random(1000) < final, labels, (labels + 1) % 10)
                                for _ in range(3)])
        return {"histories": [_history(list(np.linspace(0.1, final + s / 100, 6)))
                              for s in range(3)],
                "n_params": 1000, "widths": [8] * depth, "conv_params": 400, "head_params": 600,
                "test_predictions": predictions, "test_labels": labels}

    return {"mnist": {"source": "MNIST (made up)", "n_test": 1000,
                      "heads": {"flatten": {1: family(1, 0.8), 2: family(2, 0.9)},
                                "gap": {2: family(2, 0.5), 4: family(4, 0.85)}}}}


def test_train_actual_task_tables_and_figure():
    results = _trained()
    summary = tat.summary(results, "mnist")
    assert len(summary) == 4 and summary["head"].tolist() == ["flatten"] * 2 + ["GAP"] * 2
    assert summary["test acc (mean ± 95% CI)"].iloc[1].startswith("0.9")
    differences = tat.depth_differences(results)
    assert differences["deeper − shallower"].tolist() == ["2 − 1 conv layers",
                                                          "4 − 2 conv layers"]
    assert list(differences.columns[-3:]) == ["Holm p, images", "Holm p, seeds",
                                              "both Holm p < 0.05"]
    assert differences["95% CI over seeds (Welch, unadjusted)"].iloc[0].startswith("[0.0")
    # the made-up models are right on about 80%, 90%, 50% and 85% of the images
    assert differences["difference [95% CI over images]"].iloc[0].startswith("+0.0")
    assert differences["both Holm p < 0.05"].tolist() == ["yes", "yes"]
    assert summary["map size before head"].tolist() == ["14×14", "7×7", "7×7", "1×1"]
    speed = tat.learning_speed(results)
    assert list(speed.columns)[-3:] == ["after epoch 1", "after epoch 3", "after epoch 5"]
    assert "5 epochs, 1,000 test images" in tat.describe(results, "mnist")
    whole = {"mnist": {**results["mnist"], "n_test": 10_000, "source": "MNIST; random subset "
                       "of 10000 train / 10000 test images (seed 0)"}}
    assert tat.describe(whole, "mnist").endswith(
        "the full 10,000-image test set; MNIST; random subset of 10,000 training images (seed 0)")
    fig = tat.figure_dataset(results, "mnist")
    assert "band: 95% t interval over seeds" in fig._suptitle.get_text()
    plt.close("all")


def test_holm_adjusts_step_down_in_input_order():
    from hw1.report import holm

    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    assert holm([0.6, 0.9]).tolist() == [1.0, 1.0]  # capped at 1, monotone


def test_train_actual_task_figure_fits_the_readme(tmp_path):
    assert len(tat.make_figures(_trained())) == 3
    for name in ("train_actual_task_mnist", "train_actual_task_differences",
                 "train_actual_task_final_accuracy"):
        assert png_width(tmp_path / "figures" / f"{name}.png") <= MAX_WIDTH_PX
    plt.close("all")
