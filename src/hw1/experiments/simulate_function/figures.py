"""Figures of the function-simulation experiment."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from hw1.data import target_function
from hw1.plotting import save_figure

from .analysis import _ending, _layers, _successes, success_threshold
from .run import Config


def figure_success(results: dict, fraction: float) -> plt.Figure:
    """Per function (panel): each depth's success probability with its 95% Wilson interval,
    and every seed's finished MSE relative to the threshold on a second panel row; saved as
    ``simulate_function_success``.

    Args:
        results: as returned by :func:`run`.
        fraction: the success threshold as a fraction of the best constant's MSE.

    Returns:
        the figure.
    """
    from hw1.intervals import wilson

    fns = list(results)
    fig, axes = plt.subplots(2, len(fns), figsize=(5.2 * len(fns), 7.4), squeeze=False)
    for col, fn in enumerate(fns):
        formula = target_function(fn).formula
        ax_p, ax_l = axes[0, col], axes[1, col]
        for i, r in enumerate(results[fn].values()):
            ok = _successes(r, fraction)
            low, high = wilson(int(ok.sum()), len(ok))
            ax_p.errorbar(i, ok.mean(), yerr=[[ok.mean() - low], [high - ok.mean()]], fmt="o",
                          color=f"C{i}", capsize=5)
            final = np.array([f["loss"] for f in r["fits"]])
            ax_l.plot(np.full(len(final), i) + np.linspace(-0.15, 0.15, len(final)),
                      final / success_threshold(r, fraction), "o", color=f"C{i}", alpha=0.7)
        labels = [_layers(d) for d in results[fn]]
        for ax in (ax_p, ax_l):
            ax.set_xticks(range(len(labels)), labels)
            ax.set_xlim(-0.5, len(labels) - 0.5)
        n = len(next(iter(results[fn].values()))["seeds"])
        ax_p.set(ylim=(-0.03, 1.03), ylabel="success probability",
                 title=f"{formula}: success ({n} seeds), 95% Wilson interval")
        ax_l.axhline(1.0, color="black", ls="--", lw=1, label="success threshold")
        ax_l.set(yscale="log", ylabel="final MSE ÷ threshold",
                 title=f"{formula}: every seed's final MSE")
        ax_l.legend(loc="lower right")
    fig.suptitle(f"Success: final training MSE below {fraction:g} × the best constant's MSE")
    fig.tight_layout()
    save_figure(fig, "simulate_function_success")
    return fig


def figure_training_loss(results: dict) -> plt.Figure:
    """Per function (column): every evaluation seed's Adam-phase training loss at each depth's
    chosen rate
    (top) and its Levenberg–Marquardt finish (bottom), the end of each finish marked by how it
    ended; saved as ``simulate_function_training_loss``.

    Args:
        results: as returned by :func:`run`.

    Returns:
        the figure.
    """
    from matplotlib.lines import Line2D

    markers = {"plateau": "o", "stalled": "s", "step cap": ">"}
    fns = list(results)
    fig, axes = plt.subplots(2, len(fns), figsize=(5.2 * len(fns), 8.2), squeeze=False)
    for col, fn in enumerate(fns):
        ax_adam, ax_lm = axes[0, col], axes[1, col]
        formula = target_function(fn).formula
        ended = set()
        for i, (depth, r) in enumerate(results[fn].items()):
            curves = np.array(r["adam_loss_curves"])
            color = f"C{i}"
            for k, fit in enumerate(r["fits"]):
                label = f"{_layers(depth)}, lr {r['best_lr']:g}" if k == 0 else None
                ax_adam.plot(r["steps"], curves[k], color=color, lw=0.8, label=label)
                trace = [fit["start_loss"], *fit["loss_trace"]]
                ending = _ending(fit["reason"])
                ended.add(ending)
                ax_lm.plot(np.arange(len(trace)), trace, color=color, lw=0.8)
                ax_lm.plot(len(trace) - 1, trace[-1], marker=markers[ending], color=color,
                           mfc="none", ms=7, ls="none", clip_on=False)
        ax_adam.set(yscale="log", xlabel="full-batch Adam step (cosine-decayed rate)",
                    ylabel="training MSE", title=f"{formula}: Adam phase")
        ax_lm.set(yscale="log", xscale="symlog", xlabel="kept Levenberg–Marquardt step",
                  ylabel="training MSE", title=f"{formula}: Levenberg–Marquardt finish")
        ax_lm.set_xlim(left=0)
        lines, labels = ax_adam.get_legend_handles_labels()
        ends = [Line2D([], [], color="0.3", marker=m, mfc="none", ms=7, ls="none",
                       label=f"end: {e}") for e, m in markers.items() if e in ended]
        ax_lm.legend(handles=lines + ends, labels=labels + [h.get_label() for h in ends],
                     loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
                     title="colour: depth (its chosen rate); marker: how the finish ended")
    fig.suptitle("Training MSE of every evaluation seed at each depth's chosen learning rate")
    fig.tight_layout()
    save_figure(fig, "simulate_function_training_loss")
    return fig


def figure_predictions(results: dict, fraction: float,
                       residual: tuple[str, ...] = ("sinc",)) -> plt.Figure:
    """Every evaluation seed's prediction after the finish, one panel per (depth, function),
    coloured by success (final MSE below the threshold), the success count and median final
    MSE in the panel title; saved as ``simulate_function_predictions``. For the functions in
    ``residual`` (fits too close to the target to tell apart), the panel shows prediction
    minus target instead, on one symmetric y-range per column. The other columns share one
    y-range, the target's widened by 0.6 of its span on each side; a seed that leaves it is
    clipped, marked by a triangle on the axis edge where it leaves most, and its extreme value
    is given in the panel title. Each column has its own legend of what it draws; two
    columns make the figure 8 in wide, so that its 9 pt text is not scaled down at the
    README's ~880 px.

    Args:
        results: as returned by :func:`run`.
        fraction: the success threshold as a fraction of the best constant's MSE.
        residual: the functions drawn as residuals.

    Returns:
        the figure.
    """
    from matplotlib.lines import Line2D

    from hw1.report import num

    fns = list(results)
    depths = list(next(iter(results.values())))
    fig, axes = plt.subplots(len(depths), len(fns), figsize=(4.0 * len(fns),
                             2.9 * len(depths) + 0.9), squeeze=False, sharex=True)
    for col, fn in enumerate(fns):
        target = target_function(fn)
        for row, depth in enumerate(depths):
            ax, r = axes[row, col], results[fn][depth]
            grid = np.asarray(r["grid"])
            truth = target.fn(torch.as_tensor(grid)).numpy()
            if fn in residual:
                ax.axhline(0.0, color="black", lw=2.5, alpha=0.25)
            else:
                ax.plot(grid, truth, color="black", lw=2.5, alpha=0.25)
            ok = _successes(r, fraction)
            # a prediction column shares one y-range: the target's widened by 0.6 of its span
            # on each side; a seed leaving it is clipped and marked where it leaves most
            span = float(truth.max() - truth.min())
            low, high = float(truth.min()) - 0.6 * span, float(truth.max()) + 0.6 * span
            clipped = []
            for k in np.argsort(ok):  # failures first, successes drawn on top
                pred = np.asarray(r["predictions"])[k]
                color = "C2" if ok[k] else "C3"
                ax.plot(grid, pred - truth if fn in residual else pred, lw=0.8, alpha=0.7,
                        color=color)
                if fn in residual or (low <= pred.min() and pred.max() <= high):
                    continue
                below = (low - pred.min()) >= (pred.max() - high)
                j = int(np.argmin(pred) if below else np.argmax(pred))
                ax.plot(grid[j], low if below else high, marker="v" if below else "^",
                        color=color, ms=9, mec="black", ls="none", clip_on=False, zorder=5)
                clipped.append(f"{num(float(pred[j]))} at x = {num(float(grid[j]), 2)}")
            if fn not in residual:
                ax.set_ylim(low, high)
            final = np.median([f["loss"] for f in r["fits"]])
            note = (f"\nclipped ({len(clipped)} seed{'s' * (len(clipped) > 1)}, marker): "
                    + "; ".join(clipped) if clipped else "")
            ax.set(ylabel="prediction − target" if fn in residual else "y",
                   title=f"{target.formula}, {_layers(depth)}\n"
                         f"success {int(ok.sum())} of {len(ok)}, median final MSE {num(final)}"
                         + note)
            ax.set_xticks(np.linspace(-1, 1, 5))
        axes[-1, col].set_xlabel("x")
        if fn in residual:
            # one symmetric y-range for the whole column, so depths compare by eye
            top = max(max(abs(v) for v in axes[row, col].get_ylim()) for row in range(len(depths)))
            for row in range(len(depths)):
                axes[row, col].set_ylim(-top, top)
    fig.suptitle("Every evaluation seed's prediction after the finish, at each depth's chosen "
                 f"rate\nsuccess: final MSE below {fraction:g} × that of the best constant "
                 "predictor")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    for col, fn in enumerate(fns):  # each column's legend lists what that column draws
        if fn in residual:
            truth = Line2D([], [], color="black", lw=2.5, alpha=0.25,
                           label="0 (prediction = target)")
        else:
            truth = Line2D([], [], color="black", lw=2.5, alpha=0.25, label="target")
        drawn = [line for row in range(len(depths)) for line in axes[row, col].get_lines()]
        colors = {line.get_color() for line in drawn}
        handles = [truth]
        handles += [Line2D([], [], color="C2", label="seed with success")] * ("C2" in colors)
        handles += [Line2D([], [], color="C3", label="seed without success")] * (
            "C3" in colors)
        if any(line.get_marker() in ("v", "^") for line in drawn):
            handles.append(Line2D([], [], color="0.5", marker="v", mec="black", ms=9,
                                  ls="none", label="seed clipped by the y-axis (value in "
                                  "title)"))
        axes[-1, col].legend(handles=handles, loc="upper center", ncol=1,
                             bbox_to_anchor=(0.5, -0.2), frameon=False)
    save_figure(fig, "simulate_function_predictions")
    return fig


def make_figures(results: dict, fraction: float = Config.success_fraction
                 ) -> list[plt.Figure]:
    """Every figure of the notebook (:func:`figure_success`, :func:`figure_predictions`,
    :func:`figure_training_loss`), for ``python -m hw1.figures``.

    Args:
        results: as returned by :func:`run`.
        fraction: the success threshold as a fraction of the best constant's MSE.

    Returns:
        the figures, in the notebook's order.
    """
    return [figure_success(results, fraction), figure_predictions(results, fraction),
            figure_training_loss(results)]
