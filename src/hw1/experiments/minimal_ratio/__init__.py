"""HW1-2 (what happens when the gradient norm is almost zero): small networks driven to
critical points (loss descent, then gradient-norm descent), refined in float64, each with its
exact Hessian spectrum split into the Gauss–Newton and residual parts; the minimal ratio
(fraction of positive eigenvalues) at a per-run cutoff from Weyl's inequality and over a sweep
of relative cutoffs; a tanh control without dead units and a 2-D-input control task.

``run.py`` is the compute path, ``analysis.py`` the tables and statistics the Findings quote,
``figures.py`` the figures.
"""

from hw1.experiments.minimal_ratio.analysis import *  # noqa: F403
from hw1.experiments.minimal_ratio.figures import make_figures
from hw1.experiments.minimal_ratio.run import TASKS, Config, run

__all__ = ["TASKS", "Config", "make_figures", "run"]
