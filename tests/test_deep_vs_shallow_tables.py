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
        for depth, losses in ((1, [0.1, 0.2]), (2, [0.05, 0.5]), (5, [1e-6, 0.3])):
            results[fn][depth] = {
                "steps": [0, 5, 10], "adam_loss_curves": [[1.0, 0.5, 0.2]] * 4,
                "lrs": [0.01, 0.1], "seeds": [0, 1], "best_lr": 0.1,
                "adam_final_loss": [[0.3, 0.4], [0.2, 0.25]],
                "fits": [_fit(losses[0], "converged"), _fit(losses[1], "stalled")],
                "linear_pieces": [10 * depth, 10 * depth + 4], "n_params": 300 + depth,
                "widths": [8] * depth, "grid": grid, "predictions": np.zeros((2, len(grid)))}
    return results


def test_simulate_function_tables_are_short_labelled_dataframes():
    results = _simulated()
    summary = sf.summary(results)
    assert isinstance(summary, pd.DataFrame) and len(summary) == 6 <= MAX_ROWS
    assert ("finish ended in (seeds)", "stalled") in summary.columns
    assert summary[("finish ended in (seeds)", "stalled")].tolist() == ["1"] * 6
    comparison = sf.depth_comparison(results)
    loss, regions = comparison["log10 final MSE"], comparison["activation regions"]
    assert len(comparison) == 6 and loss["CI excludes 0"].isin(["yes", "no"]).all()
    assert loss["difference [95% CI]"].str.match(r"^[+−]?[\d.e−]+ \[").all()
    assert regions["difference [95% CI]"].iloc[1].startswith("+40.0 [")  # 5 − 1 layers
    seeds = sf.per_seed_table(results, "sinc")
    assert seeds["MSE change, last 50 kept steps (%)"].eq("").all()  # traces of 3 steps
    seeds = sf.per_seed_table(results, "sinc")
    assert len(seeds) == 6 and set(seeds["finish ended in"]) == {"plateau", "stalled"}
    assert list(sf.lr_table(results).columns) == ["target", "hidden layers", "lr 0.01",
                                                  "lr 0.1", "best lr"]
    assert sf.loss_ratio_table(results).iloc[2, 2] == "1.00"


def test_simulate_function_figures_fit_the_readme_and_list_only_drawn_endings(tmp_path):
    figs = sf.make_figures(_simulated())
    for name in ("simulate_function_predictions", "simulate_function_training_loss"):
        assert png_width(tmp_path / "figures" / f"{name}.png") <= MAX_WIDTH_PX
    labels = [t.get_text() for t in figs[1].axes[2].get_legend().get_texts()]
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
        return {"histories": [_history(list(np.linspace(0.1, final + s / 100, 6)))
                              for s in range(3)],
                "n_params": 1000, "widths": [8] * depth, "conv_params": 400, "head_params": 600}

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
    assert list(differences.columns[-3:]) == ["Welch p", "Holm p (all 2)", "Holm p < 0.05"]
    assert summary["map size before head"].tolist() == ["14×14", "7×7", "7×7", "1×1"]
    speed = tat.learning_speed(results)
    assert list(speed.columns)[-3:] == ["after epoch 1", "after epoch 3", "after epoch 5"]
    assert "5 epochs, 1,000 test images" in tat.describe(results, "mnist")
    fig = tat.figure_dataset(results, "mnist")
    assert "band: 95% t interval over seeds" in fig._suptitle.get_text()
    plt.close("all")


def test_holm_adjusts_step_down_in_input_order():
    from hw1.report import holm

    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    assert holm([0.6, 0.9]).tolist() == [1.0, 1.0]  # capped at 1, monotone


def test_train_actual_task_figure_fits_the_readme(tmp_path):
    assert len(tat.make_figures(_trained())) == 2
    for name in ("train_actual_task_mnist", "train_actual_task_final_accuracy"):
        assert png_width(tmp_path / "figures" / f"{name}.png") <= MAX_WIDTH_PX
    plt.close("all")
