"""HW1-2 (visualize the optimization process): 8 runs' weights every few epochs, projected by
one PCA fitted jointly on all snapshots of all runs (so every run shares the axes).

``run`` (the compute path) is in :mod:`.run`, the tables the Findings quote in
:mod:`.analysis`, the figures in :mod:`.figures`.
"""

from .analysis import (
    accuracy_table,
    alignment_table,
    explained_variance,
    function_space,
    function_space_table,
    geometry,
    geometry_table,
    independent_disagreement,
    midpoint_test_table,
    plane_table,
    plane_view,
    project,
)
from .figures import function_space_figure, make_figures, trajectory_figure
from .run import Config, run

__all__ = ["Config", "accuracy_table", "alignment_table", "explained_variance",
           "function_space", "function_space_figure", "function_space_table", "geometry",
           "geometry_table", "independent_disagreement", "make_figures", "midpoint_test_table",
           "plane_table", "plane_view", "project", "run", "trajectory_figure"]
