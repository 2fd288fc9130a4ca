"""One module per notebook: its frozen config (``full`` and ``smoke``), ``run`` (through the
run store), ``summary`` (the numbers the Findings quote) and ``make_figures``.

``EXPERIMENTS`` lists them in notebook order; ``python -m hw1.figures`` re-plots them all
from the run store.
"""

EXPERIMENTS = (
    "simulate_function",
    "train_actual_task",
    "optimization_trajectories",
    "gradient_norm",
    "minimal_ratio",
    "error_surface",
    "random_labels",
    "params_vs_generalization",
    "interpolation",
    "sensitivity_sharpness",
    "double_descent",
)
