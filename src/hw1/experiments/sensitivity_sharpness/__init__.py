"""HW1-3 flatness part 2 and bonus: models trained alike except for the batch size, then
measured on training data only: both sensitivity readings, ε-sharpness (Keskar et al. 2017,
normalized and raw, at two ε), the top Hessian eigenvalue and the Hessian trace, each set
against the generalization gap.

Regimes:
    ``equal_epochs``: the homework's sweep, every batch size for the same number of epochs;
    ``criterion``: every batch size until the same train-loss target (checked every few
        optimizer steps), under a step cap (a run that hits the cap is kept and marked);
    ``criterion_scaled_lr``: the criterion at a few large batch sizes with the Adam rate
        scaled by the square root of the batch size (Malladi et al. 2022).
The first two use one learning rate for every batch size (Keskar et al.'s protocol: only the
batch size changes). The seeds of one (regime, batch size) train as one stacked ensemble
(``hw1.ensemble``).

``run.py`` is the compute path, ``analysis.py`` the tables, ``figures.py`` the figures.
"""

from .analysis import (
    batch_differences,
    confound_table,
    confounds,
    epsilon_scaling,
    kendall_tau_b,
    kendall_with_interval,
    measure_table,
    rank_correlations,
    rank_table,
    scaled_lr_table,
    scaled_measure_table,
    stratified_table,
    stratified_tau,
    summary,
    training_table,
)
from .figures import (
    figure_epsilon_scaling,
    figure_flatness_vs_gap,
    figure_vs_batch_size,
    make_figures,
)
from .run import GAPS, MEASURES, REGIME_LABELS, REGIMES, Config, run

__all__ = ["GAPS", "MEASURES", "REGIMES", "REGIME_LABELS", "Config", "batch_differences",
           "confound_table", "confounds", "epsilon_scaling", "figure_epsilon_scaling",
           "figure_flatness_vs_gap", "figure_vs_batch_size", "kendall_tau_b",
           "kendall_with_interval", "make_figures", "measure_table", "rank_correlations",
           "rank_table", "run",
           "scaled_lr_table", "scaled_measure_table", "stratified_table", "stratified_tau",
           "summary",
           "training_table"]
