"""The display tables of notebooks 03, 04 and 06, on small made-up results."""

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hw1.experiments import error_surface, gradient_norm  # noqa: E402
from hw1.experiments import optimization_trajectories as trajectories  # noqa: E402
from hw1.experiments.error_surface import analysis as surface_analysis  # noqa: E402
from hw1.experiments.optimization_trajectories import analysis as traj_analysis  # noqa: E402


def test_local_minima_counts_each_basin_of_a_grid_once():
    x = np.linspace(-1, 1, 21)
    bowl = x[:, None] ** 2 + x[None, :] ** 2
    assert surface_analysis._local_minima(bowl) == 1
    two = np.minimum((x[:, None] - 0.5) ** 2, (x[:, None] + 0.5) ** 2 + 0.1) + x[None, :] ** 2
    assert surface_analysis._local_minima(two) == 2
    assert surface_analysis._local_minima(-bowl) == 4  # the four corners, at the grid's edge


def test_geometry_of_two_runs_moving_along_orthogonal_axes():
    snaps = np.zeros((2, 2, 4))  # (runs, snapshots, parameters)
    snaps[0, 0], snaps[1, 0] = [1, 0, 0, 0], [0, 1, 0, 0]
    snaps[0, 1], snaps[1, 1] = [1, 0, 3, 0], [0, 1, 0, 4]
    g = trajectories.geometry({"snapshots": snaps}, "whole")
    assert g["travel"].tolist() == [3, 4]
    assert g["init_init"] == pytest.approx([np.sqrt(2)])
    assert g["move_cos"] == pytest.approx([0])
    results = {"snapshots": snaps, "first_layer_params": 4}
    shown = trajectories.geometry_table(results).set_index("quantity")
    assert shown.loc["distance between two starts, mean (range)", "whole model"] == \
        "1.41 (1.41–1.41)"
    assert shown.loc["path length / distance start → end", "whole model"] == "1.00 ± 0"


def test_path_shape_of_a_detour():
    snaps = np.zeros((1, 3, 2))  # one run: (0, 0) → (1, 1) → (2, 0)
    snaps[0, 1], snaps[0, 2] = [1, 1], [2, 0]
    shape = traj_analysis._path_shape({"snapshots": snaps}, "whole")
    assert shape["straightness"] == pytest.approx([np.sqrt(2)])
    assert shape["move_in_pcs"] == pytest.approx([1])


def test_noise_table_shares_and_check_ratios():
    measured = {"measure_step": [0, 50, 100], "full_loss": [1.0, 0.7, 0.5],
                "full_grad_norm_sq": [3.0, 1.0, 1.0], "noise_sq": [1.0, 2.0, 3.0],
                "predicted_batch_norm_sq": [4.0, 3.0, 4.0],
                "sampled_batch_norm_sq": [4.0, 2.4, 2.0]}
    run = {"measured": measured, "history": {"step_loss": [1.0] * 110}}
    results = {"mnist": {"runs": [run, run], "seeds": [0, 1], "n_params": 10}}
    noise = gradient_norm.noise_table(results, "mnist").set_index("MNIST")
    assert noise.loc["noise share of E‖g_B‖² at iteration 100", "seed 1"] == "0.750"
    assert noise.loc["largest noise of each seed", "seed 0"] == "1.73"  # √3
    grad = gradient_norm.loss_and_gradient_table(results, "mnist").set_index("MNIST")
    assert grad.loc["iteration of the largest ‖∇L‖"].tolist() == ["0", "0", ""]
    assert grad.loc["‖∇L‖ at iteration 50", "mean ± 95% t over seeds"] == "1.00 ± 0"
    check = gradient_norm.check_table(results)
    assert check["seed 0"].tolist() == ["0.800"]  # median of 1, 0.8 and 0.5
    assert check["single measurements, range"].tolist() == ["0.500–1.00"]
    change = gradient_norm.change_table(results).set_index("ratio")
    assert change.loc["‖∇L‖ at iteration 0 ÷ at 50", "seed 0"] == "1.73"  # √3 falls to 1
    assert change.loc["loss at iteration 100 ÷ at 0", "geometric mean [95% CI]"] == \
        "0.500 [0.500, 0.500]"
    assert change.loc["‖∇L‖ at iteration 100 ÷ at 50", "seed 1"] == "1.00"
    assert set(change["role"]) == {"primary", "exploratory"}
    assert change.loc["‖∇L‖ at iteration 0 ÷ at 50", "role"] == "primary"


def test_noise_scale_and_update_tables():
    measured = {"measure_step": [0, 50, 100], "full_grad_norm_sq": [4.0, 1.0, 0.5],
                "trace_cov": [8.0, 10.0, 50.0], "step_update_norm": [0.1, 0.2, 0.3, 0.4]}
    run = {"measured": measured, "history": {"step_grad_norm": [1.0, 2.0, 3.0, 4.0, 5.0]}}
    results = {"mnist": {"runs": [run, run], "seeds": [0, 1], "n_params": 100}}
    scale = gradient_norm.noise_scale_table(results).set_index("tr Σ/‖∇L‖²")
    assert scale.loc["at iteration 0", "seed 0"] == "2.00"
    assert scale.loc["at iteration 100", "geometric mean [95% CI]"] == "100 [100, 100]"
    assert scale.loc["smallest over the run", "seed 1"] == "2.00"
    update = gradient_norm.update_table(results, "mnist", lr=0.1, window=2).set_index("MNIST")
    assert update.loc["‖Δθ‖, first 2 steps", "seed 0"] == "0.150"
    assert update.loc["‖g_B‖, last 2 steps", "seed 0"] == "3.50"  # steps 2, 3 (the last has
    # no update recorded)
    assert update.loc["‖Δθ‖ ÷ (lr·‖g_B‖), last", "seed 1"] == "1.00"  # 0.35 / (0.1 · 3.5)
    assert update.loc["lr·√P (reference)", "seed 0"] == "1.00"


def test_disjoint_pairs_and_disagreement():
    assert traj_analysis._disjoint_pairs(5) == [(0, 1), (2, 3)]
    pred = np.array([[0, 1, 2, 3], [0, 1, 2, 0], [1, 1, 1, 1]])
    assert traj_analysis._pair_disagreement(pred, [(0, 1), (0, 2)]).tolist() == [0.25, 0.75]


def test_independent_disagreement_by_hand():
    labels = np.array([0, 0, 1, 1])
    # class 0: a says (0, 1), b says (0, 0); class 1: a says (1, 1), b says (1, 0)
    pred_a, pred_b = np.array([0, 1, 1, 1]), np.array([0, 0, 1, 0])
    # agree = ½·(½·1 + ½·0) + ½·(0·½ + 1·½) = ½
    assert trajectories.independent_disagreement(pred_a, pred_b, labels) == pytest.approx(0.5)
    assert trajectories.independent_disagreement(labels, labels, labels) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        trajectories.independent_disagreement(pred_a, pred_b[:3], labels)


def test_hessian_radii_table_of_an_exact_quadratic_is_one():
    axis = np.linspace(-2.0, 2.0, 17)
    a, b = np.meshgrid(axis, axis, indexing="ij")
    results = {"hessian_eigenvalues": np.array([3.0, 1.5]), "hessian_axis": axis,
               "hessian_plane": 0.1 + 0.5 * 3.0 * a**2 + 0.5 * 1.5 * b**2 + 0.2 * a}
    frame = error_surface.hessian_radii_table(results)
    assert len(frame) == 4
    assert set(frame["v₁: measured ÷ quadratic"]) == {"1.00"}
    assert set(frame["v₂: measured ÷ quadratic"]) == {"1.00"}
