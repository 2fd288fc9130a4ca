"""HW1-1 (simulate a function): networks of different depth, equal parameter counts, fitting
1-D functions, each trained to a stated plateau.

Each (function, depth) first chooses its learning rate on *selection* seeds, by a rule fixed
in advance: full-batch Adam with a cosine-decayed rate at every rate of the grid (one stacked
ensemble), and the rate with the lowest median final loss wins. The *evaluation* seeds (other
initializations) are then trained at that rate, and each is finished by Levenberg–Marquardt
(:func:`hw1.least_squares.fit_least_squares`) until the loss stops falling or the step cap.
A seed succeeds when its finished training MSE is below a stated fraction of the best
constant predictor's (the target's variance); depths compare by success probability (Wilson
intervals, Fisher's exact test) and by the distribution of final losses (Mann–Whitney).
"""

from .analysis import (
                       depth_comparison,
                       finish_table,
                       flip_check,
                       lr_table,
                       per_seed_rows,
                       success_threshold,
                       summary,
)
from .figures import figure_predictions, figure_success, figure_training_loss, make_figures
from .run import Config, choose_rate, run

__all__ = ["Config", "choose_rate", "depth_comparison", "figure_predictions",
           "figure_success", "figure_training_loss", "finish_table", "flip_check", "lr_table",
           "make_figures", "per_seed_rows", "run", "success_threshold", "summary"]
