"""The figures of the gradient-norm experiment."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter

from hw1.data import TARGET_FUNCTIONS
from hw1.plotting import save_figure

from .analysis import _per_seed, _task_name
from .run import short_batch_steps


def _plain_log_ticks(ax: plt.Axes) -> None:
    """Label a log y axis with plain numbers (and minor ticks 2, 3, 6 if it spans few
    decades)."""
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    low, high = ax.get_ylim()
    few_decades = high / low < 30  # label minor ticks plainly too, else none
    ax.yaxis.set_minor_formatter(FuncFormatter(
        lambda v, _, show=few_decades: f"{v:g}" if show and f"{v:.0e}"[0] in "236" else ""))


def _full_batch_steps(r: dict) -> tuple[np.ndarray, np.ndarray]:
    """Seed 0's iterations and the mask of those with a batch of exactly B."""
    it = np.arange(len(r["runs"][0]["history"]["step_loss"]))
    return it, ~short_batch_steps(r["n_train"], r["batch_size"], len(it))


def _figure_task_name(task: str) -> str:
    """A task as the figures name it: ``"1-D task: sin(5πx)/(5πx)"`` for a target function
    (as the text calls it), else the dataset (``"MNIST"``)."""
    return f"1-D task: {_task_name(task)}" if task in TARGET_FUNCTIONS else _task_name(task)


def _band_or_seeds(ax: plt.Axes, steps: np.ndarray, values: np.ndarray, color: str,
                   label: str, seeds: list | None = None) -> bool:
    """The mean over seeds with its 95% t band, or, where that band would reach 0 (off a log
    axis), the mean with each seed's curve drawn thinly instead.

    Args:
        ax: the axes (log y).
        steps: ``(M,)`` iterations of the measurements.
        values: ``(S, M)`` per-seed values.
        color: line colour.
        label: legend label of the mean line.
        seeds: the ``S`` seeds; if given, single seeds are told apart by line style and each
            is labelled ``"seed <s>"`` (black, one style per seed, as in every panel; else one
            thin style in ``color`` and one entry for all).

    Returns:
        True if the band was drawn, False if the single seeds were.
    """
    from hw1.intervals import t_interval
    from hw1.plotting import BAND_NOTE, band

    low = [m - h for m, h in (t_interval(v) for v in values.T)]
    if min(low) > 0:
        band(ax, steps, values, label=f"{label}, mean; {BAND_NOTE}", color=color)
        return True
    ax.plot(steps, values.mean(0), color=color, lw=1.6, label=f"{label}, mean over seeds")
    styles = ("-", "--", ":", "-.")
    for k, v in enumerate(values):
        if seeds is None:
            ax.plot(steps, v, color=color, lw=0.6, alpha=0.6,
                    label=f"{label}, single seeds" if k == 0 else None)
        else:
            ax.plot(steps, v, color="black", lw=0.9, ls=styles[k % len(styles)], alpha=0.8,
                    label=f"seed {seeds[k]}")
    return False


def loss_and_gradient_figure(results: dict) -> plt.Figure:
    """Per task (column): the full-batch loss (top) and full-batch ‖∇L‖ (bottom) over the
    iterations, mean over seeds with the 95% t interval over seeds as a band (or, where the
    band would reach 0, each seed in its own black line style, one legend for all panels);
    seed 0's mini-batch loss of every iteration in grey. Under 8 in wide, so that its 9 pt
    text is not scaled down at the README's ~880 px.

    Args:
        results: what :func:`run` returns.

    Returns:
        The figure, saved as ``gradient_norm_and_loss``.
    """
    tasks = list(results)
    fig, axes = plt.subplots(2, len(tasks), figsize=(3.9 * len(tasks), 7.4), sharex="col",
                             squeeze=False, layout="constrained")
    for col, task in enumerate(tasks):
        r = results[task]
        steps = np.asarray(r["runs"][0]["measured"]["measure_step"])
        it, full_batch = _full_batch_steps(r)
        top, bottom = axes[0, col], axes[1, col]
        top.plot(it[full_batch], np.asarray(r["runs"][0]["history"]["step_loss"])[full_batch],
                 lw=0.4, color="grey", alpha=0.5, label="mini-batch loss (seed 0)")
        seeds = list(r["seeds"])
        if _band_or_seeds(top, steps, _per_seed(r, "full_loss"), "C0", "full-batch loss",
                          seeds):  # else seed 0's full-batch loss is drawn among the seeds
            top.plot(steps, _per_seed(r, "full_loss")[0], "-", color="black", lw=0.9,
                     alpha=0.8, label=f"full-batch loss, seed {seeds[0]}")
        top.set(yscale="log", ylabel=f"{r['loss']} loss",
                title=f"{_figure_task_name(task)}\n{r['n_params']:,} parameters")
        _band_or_seeds(bottom, steps, np.sqrt(_per_seed(r, "full_grad_norm_sq")), "C3",
                       "full-batch ‖∇L‖", seeds)
        bottom.set(yscale="log", ylabel="‖∇L‖", xlabel="iteration")
        for ax in (top, bottom):
            _plain_log_ticks(ax)
            entries = [(h, lab.replace("; band:", ";\nband:"))  # the band note on its own
                       for h, lab in zip(*ax.get_legend_handles_labels(), strict=True)
                       if not lab.startswith("seed ")]  # line: a narrow legend
            ax.legend(*zip(*entries, strict=True), loc="upper right", fontsize=9)
    single = {lab: h for ax in axes.flat
              for h, lab in zip(*ax.get_legend_handles_labels(), strict=True)
              if lab.startswith("seed ")}  # the same styles in every panel: one legend
    if single:
        fig.legend(list(single.values()), [f"{lab} (single seeds, where no band)"
                                           if i == 0 else lab
                                           for i, lab in enumerate(single)],
                   loc="outside lower center", ncol=len(single))
    fig.suptitle(f"Full-batch loss and gradient norm, {len(results[tasks[0]]['seeds'])} seeds")
    save_figure(fig, "gradient_norm_and_loss")
    return fig


def noise_figure(results: dict) -> plt.Figure:
    """Per task: seed 0's mini-batch ‖g_B‖ of every iteration, and, mean over seeds, the
    predicted √E‖g_B‖², its two parts ‖∇L‖ and the noise √(c·tr Σ/B) (with its 95% t interval
    over seeds as a band), and the sampled √(mean ‖g_B‖²) of the check batches.

    Args:
        results: what :func:`run` returns.

    Returns:
        The figure, saved as ``gradient_norm_noise``.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    tasks = list(results)
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.8 * len(tasks), 4.2), squeeze=False,
                             layout="constrained")
    banded, seeded = [], []  # tasks whose noise is drawn with a band / as single seeds
    for ax, task in zip(axes[0], tasks, strict=True):
        r = results[task]
        steps = np.asarray(r["runs"][0]["measured"]["measure_step"])
        it, full_batch = _full_batch_steps(r)
        ax.plot(it[full_batch], np.asarray(r["runs"][0]["history"]["step_grad_norm"])[full_batch],
                lw=0.4, color="grey", alpha=0.5, label="mini-batch ‖g_B‖ (seed 0)")
        ax.plot(steps, np.sqrt(_per_seed(r, "predicted_batch_norm_sq")).mean(0), "--",
                color="black", label="predicted √E‖g_B‖²")
        ax.plot(steps, np.sqrt(_per_seed(r, "sampled_batch_norm_sq")).mean(0), "o",
                color="black", ms=2.5,
                label=f"sampled √mean‖g_B‖² ({r['check_batches']} batches)")
        ax.plot(steps, np.sqrt(_per_seed(r, "full_grad_norm_sq")).mean(0), color="C3",
                label="full-batch ‖∇L‖")
        drew_band = _band_or_seeds(ax, steps, np.sqrt(_per_seed(r, "noise_sq")), "C2",
                                   "noise √(c·tr Σ/B)")
        (banded if drew_band else seeded).append(_task_name(task))
        ax.set(yscale="log", xlabel="iteration", ylabel="gradient norm",
               title=f"{_figure_task_name(task)}, batches of B = {r['batch_size']}")
        _plain_log_ticks(ax)
    legend = {}  # label -> handle, over both panels, the noise entries written once below
    for ax in axes[0]:
        legend.update((lab, h) for h, lab in zip(*ax.get_legend_handles_labels(), strict=True)
                      if not lab.startswith("noise"))
    legend["noise √(c·tr Σ/B), mean"] = Line2D([], [], color="C2", lw=1.6)
    if banded:
        legend[f"band: 95% t interval ({', '.join(banded)})"] = Patch(color="C2", alpha=0.2,
                                                                     linewidth=0)
    if seeded:
        legend[f"single seeds ({', '.join(seeded)})"] = Line2D([], [], color="C2", lw=0.6,
                                                               alpha=0.6)
    fig.legend(list(legend.values()), list(legend), loc="outside lower center", ncol=2)
    fig.suptitle(f"The mini-batch gradient's norm and its two parts; lines and dots: mean over "
                 f"{len(results[tasks[0]]['seeds'])} seeds")
    save_figure(fig, "gradient_norm_noise")
    return fig


def _window_means(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Means of consecutive blocks of ``window`` steps of ``(S, T)`` values: block centres
    ``(T // window,)`` and means ``(S, T // window)``."""
    blocks = values.shape[1] // window
    trimmed = values[:, :blocks * window].reshape(len(values), blocks, window)
    return (np.arange(blocks) + 0.5) * window, trimmed.mean(2)


def _geometric_band(ax: plt.Axes, steps: np.ndarray, values: np.ndarray, color: str,
                    label: str) -> None:
    """The geometric mean over seeds of positive ``(S, M)`` values, with the 95% t interval
    of their log10 values transformed back as a band (what the noise-scale table quotes)."""
    from hw1.intervals import t_interval

    logs = np.log10(values)
    mean, half = np.asarray([t_interval(v) for v in logs.T]).T
    ax.plot(steps, 10 ** mean, color=color, label=f"{label}, geometric mean over seeds")
    ax.fill_between(steps, 10 ** (mean - half), 10 ** (mean + half), color=color, alpha=0.2,
                    linewidth=0, label="band: 95% t interval of log10, transformed back")


def noise_scale_and_update_figure(results: dict, lr: float, window: int = 50) -> plt.Figure:
    """Top row, per task: the gradient-noise scale tr Σ/‖∇L‖² at every measurement (geometric
    mean over seeds with the 95% t interval of the log10 values as a band), with the batch
    size B as a line. Bottom row: Adam's update norm ‖Δθ‖ and lr·‖g_B‖, both averaged over blocks
    of ``window`` steps (mean over seeds), and lr·√P.

    Args:
        results: what :func:`run` returns.
        lr: Adam's learning rate.
        window: steps per block in the bottom row.

    Returns:
        The figure, saved as ``gradient_noise_scale_and_adam_update``.
    """
    tasks = list(results)
    fig, axes = plt.subplots(2, len(tasks), figsize=(4.8 * len(tasks), 7.0), squeeze=False,
                             layout="constrained")
    for col, task in enumerate(tasks):
        r = results[task]
        steps = np.asarray(r["runs"][0]["measured"]["measure_step"])
        top, bottom = axes[0, col], axes[1, col]
        scale = _per_seed(r, "trace_cov") / _per_seed(r, "full_grad_norm_sq")
        _geometric_band(top, steps, scale, "C2", "tr Σ/‖∇L‖²")
        top.axhline(r["batch_size"], color="black", ls=":", lw=1,
                    label=f"batch size B = {r['batch_size']}")
        top.set(yscale="log", ylabel="gradient-noise scale tr Σ/‖∇L‖²", xlabel="iteration",
                title=f"{_figure_task_name(task)}: noise scale (McCandlish et al., 2018)")
        n = min(len(run["measured"]["step_update_norm"]) for run in r["runs"])
        update = np.asarray([run["measured"]["step_update_norm"][:n] for run in r["runs"]])
        grad = np.asarray([run["history"]["step_grad_norm"][:n] for run in r["runs"]])
        centres, upd = _window_means(update, window)
        _, grd = _window_means(grad, window)
        bottom.plot(centres, upd.mean(0), "o-", ms=2, color="C0",
                    label="Adam's update ‖Δθ‖")
        bottom.plot(centres, lr * grd.mean(0), "o-", ms=2, color="C3",
                    label="lr·‖g_B‖ (an SGD step)")
        bottom.axhline(lr * np.sqrt(r["n_params"]), color="black", ls=":", lw=1,
                       label="lr·√P")
        bottom.set(yscale="log", ylabel="step norm", xlabel="iteration",
                   title=f"Adam's actual step: means over blocks of {window} steps\n"
                         f"and {len(r['seeds'])} seeds")
        bottom.legend(loc="center left", bbox_to_anchor=(0.02, 0.42), fontsize=9)
        for ax in (top, bottom):
            _plain_log_ticks(ax)
    # one legend for the top row, above it, clear of the lines and bands
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center", ncol=3,
               fontsize=9)
    save_figure(fig, "gradient_noise_scale_and_adam_update")
    return fig


def make_figures(results: dict, lr: float = 1e-3) -> list[plt.Figure]:
    """The loss and full-batch gradient norm figure, the noise decomposition figure, then the
    noise scale and Adam update figure."""
    return [loss_and_gradient_figure(results), noise_figure(results),
            noise_scale_and_update_figure(results, lr)]
