"""HW1-3 flatness part 1 (interpolation, Goodfellow et al. 2015; the homework's batch-size
version after Keskar et al. 2017): models trained to the same train-loss criterion (notebook
10's criterion regime) except for the batch size (one pair) or the learning rate (another),
from the same initialization and from independent ones; loss and accuracy along
θ(α) = (1 − α)·θ_a + α·θ_b, again after the independent endpoint's hidden units are
permuted to match the other's (weight matching, Ainsworth et al. 2023), and
filter-normalized 1-D loss curves around each endpoint (Li et al. 2018).

``run.py`` is the compute path, ``analysis.py`` the tables, ``figures.py`` the figures.
"""

from .analysis import (
    _barriers,  # noqa: F401  (tests read the per-seed barriers)
    alignment_table,
    barrier_differences,
    differences_from_base,
    endpoint_table,
    flatness_radius_table,
    line_table,
    outer_loss_table,
    pair_table,
    paired_difference,
    summary,
)
from .figures import (
    accuracy_curves_figure,
    filter_normalized_figure,
    loss_curves_figure,
    make_figures,
)
from .run import ALIGNED, DIRECTION_SEED, ENDPOINTS, PAIRS, Config, run

__all__ = ["ALIGNED", "DIRECTION_SEED", "ENDPOINTS", "PAIRS", "Config", "accuracy_curves_figure",
           "alignment_table", "barrier_differences", "differences_from_base", "endpoint_table",
           "filter_normalized_figure", "flatness_radius_table", "line_table",
           "loss_curves_figure", "make_figures", "outer_loss_table", "pair_table",
           "paired_difference", "run", "summary"]
