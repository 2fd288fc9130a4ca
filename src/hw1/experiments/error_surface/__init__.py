"""HW1-2 bonus (visualize the error surface): the loss around a trained MNIST solution on
planes of filter-normalized random directions (several direction seeds) and on the plane of
the Hessian's top two eigenvectors (Lanczos on Hessian-vector products), along the straight
line from initialization to the solution (training and test loss), under a rescaling of the
last layer, and on the PCA plane of that run's own trajectory (from
:mod:`hw1.experiments.optimization_trajectories`).

``run`` (the compute path) is in :mod:`.run`, the tables the Findings quote in
:mod:`.analysis`, the figures in :mod:`.figures`.
"""

from .analysis import (
    hessian_radii_table,
    hessian_table,
    line_table,
    path_table,
    random_plane_table,
    random_planes_table,
    repeat_over_runs,
    runs_table,
    scale_table,
)
from .figures import (
    line_figure,
    make_figures,
    other_random_planes_figure,
    path_figure,
    planes_figure,
    random_plane_figure,
    runs_figure,
    scale_figure,
)
from .run import Config, mlp_loss_on_plane, run, top_hessian_eigenpairs

__all__ = ["Config", "hessian_radii_table", "hessian_table", "line_figure", "line_table",
           "make_figures", "mlp_loss_on_plane", "other_random_planes_figure",
           "path_figure", "path_table", "planes_figure",
           "random_plane_figure", "random_plane_table", "random_planes_table",
           "repeat_over_runs", "run", "runs_figure", "runs_table", "scale_figure",
           "scale_table", "top_hessian_eigenpairs"]
