"""HW1-3 (can a network fit random labels?) as a label-corruption sweep (Zhang et al. 2017,
Fig. 1): a fraction of the training labels is replaced by uniformly random classes, from none
(the true-label control) to all; each model trains until it fits its labels, and its error is
measured on the untouched test set. The seeds of one corruption level, each with its own
corrupted labels, train as one stacked ensemble. Every epoch records the accuracy on the
changed and on the unchanged labels separately (Arpit et al. 2017), so memorization of the
changed labels is timed on its own.

``run`` (the compute path) is in :mod:`.run`, the tables the Findings quote in
:mod:`.analysis`, the figures in :mod:`.figures`.
"""

from .analysis import (
    CHANGED_THRESHOLDS,
    CONTROL_QUANTITIES,
    SUMMARY_PARTS,
    changed_label_times,
    differences_from_control,
    epochs_to_reach,
    level_differences,
    summary,
)
from .figures import (
    figure_changed_unchanged,
    figure_corruption_sweep,
    figure_training_curves,
    make_figures,
)
from .run import Config, corrupt_labels, run

__all__ = ["CHANGED_THRESHOLDS", "CONTROL_QUANTITIES", "SUMMARY_PARTS", "Config",
           "changed_label_times", "corrupt_labels",
           "differences_from_control", "epochs_to_reach", "figure_changed_unchanged",
           "figure_corruption_sweep", "figure_training_curves", "level_differences",
           "make_figures", "run", "summary"]
