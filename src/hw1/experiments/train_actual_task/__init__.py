"""HW1-1 (train on an actual task): CNNs of different depth with equal parameter counts on
MNIST and CIFAR-10 (the JPEG copy offline), several seeds each.

The classifier head decides where the parameters go. With a flatten head (the map average-
pooled to 4x4, flattened, one linear layer) a shallow CNN spends most of its budget in the
head; with a global-average-pooling head (GAP: the map pooled to 1x1, one linear layer; Lin et
al. 2014) the head holds only ``(channels + 1) x classes`` parameters and nearly all of the
budget sits in the convolutions at every depth, so depth is no longer confounded with a large
linear classifier.

``run`` (the compute path) is in :mod:`.run`, the tables the Findings quote in
:mod:`.analysis`, the figures in :mod:`.figures`.
"""

from .analysis import depth_differences, describe, learning_speed, summary
from .figures import figure_dataset, figure_differences, figure_final_accuracy, make_figures
from .run import HEADS, Config, run

__all__ = ["HEADS", "Config", "depth_differences", "describe", "figure_dataset",
           "figure_differences", "figure_final_accuracy", "learning_speed", "make_figures",
           "run", "summary"]
