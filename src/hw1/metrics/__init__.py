"""Metrics of trained networks, each tested against exact answers.

Optimization (HW1-2): :func:`gradient_norm`, :func:`hessian`, :func:`minimal_ratio`,
:func:`hessian_spectrum`, :func:`top_hessian_eigenvalue`.
"""

from hw1.metrics.curvature import (
                                   gradient_norm,
                                   hessian,
                                   hessian_spectrum,
                                   minimal_ratio,
                                   top_hessian_eigenvalue,
)

__all__ = ["gradient_norm", "hessian", "hessian_spectrum", "minimal_ratio",
           "top_hessian_eigenvalue"]
