"""Beyond HW1-3: model-wise double descent (Belkin et al. 2019; Nakkiran et al. 2019) at CPU
size. A few thousand MNIST images with a fixed fraction of noisy labels; one-hidden-layer MLPs
whose parameter counts span the interpolation threshold P ≈ n·K (n training images, K
classes); every width trained for the same budget; test error and loss against parameters.
Controls: clean labels at some widths, a second (smaller) training set, and widths fixed
before a confirmation run with fresh seeds and a second noise draw.

``run`` (the compute path) lives in :mod:`.run`; the tables and statistics the Findings quote
in :mod:`.analysis`; the figures in :mod:`.figures`.
"""

from hw1.experiments.double_descent.analysis import (
    clean_control_table,
    confirmation_mcnemar_table,
    confirmation_table,
    early_stopping_table,
    error_by_epoch,
    first_width,
    interpolation_table,
    landmarks,
    peak,
    peak_table,
    peaks_over_epochs,
    recorded_epochs,
    sizes_table,
    summary,
    summary_table,
    thresholds,
    tolerance_table,
)
from hw1.experiments.double_descent.figures import (
    figure_by_width,
    figure_controls,
    figure_over_training,
    make_figures,
)
from hw1.experiments.double_descent.run import (
    ARMS,
    NOISE_SEED,
    SECOND_NOISE_SEED,
    Config,
    run,
)

__all__ = ["ARMS", "NOISE_SEED", "SECOND_NOISE_SEED", "Config", "clean_control_table",
           "confirmation_mcnemar_table", "confirmation_table", "early_stopping_table",
           "error_by_epoch",
           "figure_by_width", "figure_controls", "figure_over_training", "first_width",
           "interpolation_table", "landmarks", "make_figures", "peak", "peak_table",
           "peaks_over_epochs", "recorded_epochs", "run", "sizes_table", "summary",
           "summary_table", "thresholds", "tolerance_table"]
