"""The error-surface experiment's fast plane evaluator and its Lanczos Hessian eigenpairs,
against the plain evaluator and the exact Hessian."""

import numpy as np
import pytest
import torch

from hw1.experiments.error_surface import mlp_loss_on_plane, top_hessian_eigenpairs
from hw1.metrics import hessian, loss_on_plane
from hw1.models import mlp


def _setup(seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(37, 2, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (37,), generator=g)
    torch.manual_seed(seed)
    model = mlp(6, [5, 3], 4).double()
    dirs = [{n: torch.randn(p.shape, generator=g, dtype=torch.float64)
             for n, p in model.named_parameters()} for _ in range(2)]
    return model, X, y, dirs


def test_fast_plane_equals_the_plain_evaluator():
    model, X, y, (d1, d2) = _setup()
    a, b = torch.linspace(-1, 1, 4, dtype=torch.float64), torch.linspace(-0.5, 2, 3,
                                                                          dtype=torch.float64)
    ce = torch.nn.functional.cross_entropy
    plain = loss_on_plane(model, ce, X, y, d1, d2, a, b, chunk=10)
    fast = mlp_loss_on_plane(model, ce, X, y, d1, d2, a, b, chunk=8)
    torch.testing.assert_close(fast, plain, rtol=1e-12, atol=1e-12)
    line = mlp_loss_on_plane(model, ce, X, y, d1, None, a)
    torch.testing.assert_close(line, loss_on_plane(model, ce, X, y, d1, None, a))
    with pytest.raises(ValueError, match="Flatten, Linear"):
        mlp_loss_on_plane(model[1:], ce, X, y, d1, d2, a, b)


def test_lanczos_top_eigenpairs_match_the_exact_hessian():
    model, X, y, _ = _setup(1)
    ce = torch.nn.functional.cross_entropy
    exact = hessian(model, ce, X, y)
    values, vectors = torch.linalg.eigh(exact)
    got, got_vectors, calls = top_hessian_eigenpairs(model, ce, X, y, k=2, tol=1e-10)
    np.testing.assert_allclose(got, values.flip(0)[:2].numpy(), rtol=1e-8)
    for v, w in zip(got_vectors, vectors.flip(1).T[:2].numpy(), strict=True):
        assert abs(float(v @ w)) == pytest.approx(1.0, abs=1e-6)  # same line, either sign
    assert calls > 0


def _surface_results(seeds=(0, 1, 2)):
    """Synthetic results of the shape :func:`run` returns, for the figures: quadratic-plus-
    quartic planes around a minimum of 0.02, and a line whose smallest loss lies at α = 1.1."""
    axis = np.linspace(-1, 1, 9)
    A, B = np.meshgrid(axis, axis, indexing="ij")
    h = np.linspace(-0.8, 0.8, 9)
    Ha, Hb = np.meshgrid(h, h, indexing="ij")
    alpha = np.linspace(-0.5, 1.5, 41)
    return {"axis": axis, "direction_seeds": list(seeds),
            "random_planes": [0.02 + (1 + s) * (A ** 2 + B ** 2) + A ** 4 for s in seeds],
            "hessian_axis": h, "hessian_plane": 0.02 + 5 * Ha ** 2 + 4 * Hb ** 2 + Ha ** 4,
            "hessian_eigenvalues": [10.0, 8.0],
            "line_alpha": alpha, "line_loss": 0.018 + (alpha - 1.1) ** 2}


def test_planes_figures_read_at_the_readme_width_with_one_colour_scale():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    from hw1.experiments import error_surface
    from hw1.paths import figures_dir
    from hw1.plotting import MAX_WIDTH_PX, png_width

    results = _surface_results()
    fig = error_surface.planes_figure(results)
    width = png_width(figures_dir() / "error_surface_random_planes_and_hessian_plane.png")
    assert width <= MAX_WIDTH_PX
    fig.canvas.draw()
    smallest = min(t.get_fontsize() for t in fig.findobj(Text)
                   if t.get_visible() and t.get_text().strip())
    assert smallest * 880 / width >= 9  # still >= 9 pt at a code host's 880 px
    assert len(fig.axes) == 5  # four panels and one colour bar shared by the two planes
    legend = [t.get_text() for t in fig.axes[3].get_legend().get_texts()]
    assert any(t.startswith("smallest: α = 1.10") for t in legend)  # past the solution
    other = error_surface.other_random_planes_figure(results)
    assert png_width(figures_dir() / "error_surface_random_planes_other_seeds.png") <= MAX_WIDTH_PX
    assert [ax.get_title() for ax in other.axes[:2]] == ["direction seed 1", "direction seed 2"]
    with pytest.raises(ValueError, match="only one direction seed"):
        error_surface.other_random_planes_figure({**results, "direction_seeds": [0]})
    plt.close("all")
