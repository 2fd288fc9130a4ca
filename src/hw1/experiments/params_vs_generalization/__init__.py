"""HW1-3 (number of parameters vs generalization): one MLP structure at widths spanning more
than two orders of magnitude of parameters, on MNIST and CIFAR-10, several seeds each (the
seeds of one width trained at once as a stacked ensemble), every width trained for the same
budget, one cosine schedule run to its end, and again for twice that budget. How far each
width's train loss still moved over the last epochs is reported, not assumed. Test metrics are
on the whole test set, with each model's per-image correctness kept for comparisons paired
over test images.

``run`` (the compute path) is in :mod:`.run`, the tables the Findings quote in
:mod:`.analysis`, the figures in :mod:`.figures`.
"""

from .analysis import (
    BUDGETS,
    budget_check,
    consecutive_differences,
    differences_from_lowest_test_loss,
    doubling_counts,
    fitting_regime,
    lowest_test_loss_range,
    n_times_k,
    primary_comparisons,
    summary,
)
from .figures import figure, figure_budget_differences, make_figures
from .run import METRICS, Config, run

__all__ = ["BUDGETS", "METRICS", "Config", "budget_check", "consecutive_differences",
           "differences_from_lowest_test_loss", "doubling_counts", "figure",
           "figure_budget_differences", "fitting_regime", "lowest_test_loss_range", "make_figures",
           "n_times_k", "primary_comparisons", "run", "summary"]
