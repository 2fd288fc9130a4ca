"""Metrics of trained networks, each tested against exact answers.

Optimization (HW1-2): :func:`gradient_norm`, :func:`hessian`, :func:`minimal_ratio`,
:func:`hessian_spectrum`, :func:`top_hessian_eigenvalue`, :func:`hessian_trace`,
:func:`gradient_noise`; loss
landscapes: :func:`filter_normalized_direction`, :func:`loss_on_plane`.
Generalization (HW1-3): :func:`sensitivity`, :func:`sharpness`, :func:`interpolate`.
Expressivity (HW1-1): :func:`linear_regions`.
"""

from hw1.metrics.curvature import (
                                   gauss_newton_split,
                                   gradient_norm,
                                   hessian,
                                   hessian_spectrum,
                                   hessian_trace,
                                   minimal_ratio,
                                   top_hessian_eigenvalue,
)
from hw1.metrics.dead_units import dead_relu_parameters
from hw1.metrics.gradient_noise import gradient_noise
from hw1.metrics.interpolation import interpolate
from hw1.metrics.linear_regions import linear_regions
from hw1.metrics.sensitivity import per_sample_sensitivity, sensitivities, sensitivity
from hw1.metrics.sharpness import sharpness, sharpness_details
from hw1.metrics.surface import difference_direction, filter_normalized_direction, loss_on_plane

__all__ = ["dead_relu_parameters", "difference_direction", "filter_normalized_direction",
           "gauss_newton_split",
           "gradient_noise", "gradient_norm", "hessian", "hessian_spectrum", "hessian_trace",
           "interpolate", "linear_regions", "loss_on_plane", "minimal_ratio",
           "per_sample_sensitivity", "sensitivities", "sensitivity", "sharpness",
           "sharpness_details",
           "top_hessian_eigenvalue"]
