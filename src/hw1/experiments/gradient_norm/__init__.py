"""HW1-2 (observe the gradient norm during training): the mini-batch gradient the optimizer
steps along, beside the full-batch gradient ∇L and the sampling noise that separates them,
E‖g_B‖² = ‖∇L‖² + (N − B)/(N − 1)·tr Σ/B (:func:`hw1.metrics.gradient_noise`, exact over all N
training samples by the per-sample outer-product identity of linear layers), the
gradient-noise scale tr Σ/‖∇L‖² (McCandlish et al., 2018) and the norm of Adam's actual
update, for several seeds on a 1-D function and on MNIST.

``run`` (the compute path) is in :mod:`.run`, the tables the Findings quote in
:mod:`.analysis`, the figures in :mod:`.figures`.
"""

from .analysis import (
    change_table,
    check_table,
    loss_and_gradient_table,
    noise_scale_table,
    noise_table,
    update_table,
)
from .figures import (
    loss_and_gradient_figure,
    make_figures,
    noise_figure,
    noise_scale_and_update_figure,
)
from .run import MEASURED, Config, run, short_batch_steps

__all__ = ["MEASURED", "Config", "change_table", "check_table", "loss_and_gradient_figure",
           "loss_and_gradient_table", "make_figures", "noise_figure",
           "noise_scale_and_update_figure", "noise_scale_table", "noise_table", "run",
           "short_batch_steps", "update_table"]
