"""Beyond HW1-3: model-wise double descent (Belkin et al. 2019; Nakkiran et al. 2019) at CPU
size. A few thousand MNIST images with a fixed fraction of noisy labels; one-hidden-layer MLPs
whose parameter counts span the interpolation threshold P ≈ n·K (n training images, K
classes); every width trained for the same budget; test error and loss against parameters.
The seeds of one width train as one stacked ensemble."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np
import torch

from hw1.config import ExperimentConfig
from hw1.data import DATASETS, dataset_label, load_subset
from hw1.ensemble import evaluate_ensemble, train_ensemble
from hw1.experiments.random_labels import corrupt_labels
from hw1.intervals import t_interval, welch_difference
from hw1.models import count_params, image_mlp
from hw1.plotting import save_figure
from hw1.store import RunStore
from hw1.training import loss_function

NOISE_SEED = 12_345
"""Seeds the one noisy label set that every width and seed trains on."""


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the double-descent sweep.

    Attributes:
        dataset, n_train: a seeded training subset (the whole test split is used).
        label_noise: fraction of training labels replaced by uniformly random classes (one
            fixed draw for every model), in [0, 1).
        widths: hidden widths of the one-hidden-layer MLP ``in-w-classes``.
        epochs, batch_size, lr: Adam at a constant rate, the same budget for every width.
        record_every: epochs between recorded train/test evaluations.
        seeds: initialization and batch order.
    """

    name: ClassVar[str] = "double_descent"
    positive: ClassVar[tuple[str, ...]] = ("n_train", "widths", "epochs", "batch_size", "lr",
                                           "record_every")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"dataset": DATASETS}
    dataset: str = "mnist"
    n_train: int = 4_000
    label_noise: float = 0.2
    widths: tuple[int, ...] = (2, 4, 6, 8, 10, 12, 16, 20, 30, 40, 50, 100, 200, 400)
    epochs: int = 300
    batch_size: int = 128
    lr: float = 1e-3
    record_every: int = 25
    seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.label_noise < 1:
            raise ValueError(f"label_noise must lie in [0, 1), got {self.label_noise}")
        if len(self.seeds) < 2:
            raise ValueError(f"need at least 2 seeds for intervals, got {self.seeds}")
        if list(self.widths) != sorted(set(self.widths)):
            raise ValueError(f"widths must be increasing without repeats, got {self.widths}")


Config.register(full=Config(), smoke=Config(dataset="digits", n_train=300,
                                            widths=(2, 4, 16, 64), epochs=20, record_every=10,
                                            seeds=(0, 1)))


def _data(cfg: Config):
    data = load_subset(cfg.dataset, cfg.n_train, 10 ** 9)
    noisy = corrupt_labels(data.y_train, cfg.label_noise, data.num_classes,
                           torch.Generator().manual_seed(NOISE_SEED))
    return data, noisy


def _unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str]:
    data, noisy = _data(cfg)
    width = spec["width"]
    models = []
    for s in seeds:
        torch.manual_seed(s)
        models.append(image_mlp(data.input_shape, (width,), data.num_classes))
    hists, ens = train_ensemble(models, data.x_train, noisy, data.x_test, data.y_test,
                                epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                                seeds=seeds, record_every=cfg.record_every,
                                desc=f"width {width}")
    changed = noisy != data.y_train
    _, acc_on_noisy = evaluate_ensemble(ens, loss_function("cross_entropy"),
                                        data.x_train[changed], noisy[changed])
    return ({"width": width, "n_params": count_params(models[0]),
             "n_train": len(data.y_train), "n_test": len(data.y_test),
             "num_classes": data.num_classes, "labels_changed": changed.float().mean().item(),
             "rows": [{"seed": s, "train_loss": h.train_loss[-1], "train_acc": h.train_acc[-1],
                       "test_loss": h.test_loss[-1], "test_acc": h.test_acc[-1],
                       "noisy_labels_fitted": acc_on_noisy[r].item(),
                       "history": {k: getattr(h, k) for k in ("epoch", "train_acc",
                                                              "test_acc")}}
                      for r, (s, h) in enumerate(zip(seeds, hists, strict=True))]},
            data.source)


def run(cfg: Config, executor: Executor | None = None) -> dict:
    """Train (or load) every width, all seeds at once.

    Args:
        cfg: the experiment's settings.
        executor: runs the missing widths; None: here, one after another.

    Returns:
        ``{"dataset", "source", "n_train", "num_classes", "threshold" (n·K), "label_noise",
        "labels_changed", "epochs", "widths": [one dict per width with "n_params" and
        per-seed "rows"]}``.
    """
    base = {k: v for k, v in cfg.to_dict().items() if k not in ("widths", "seeds")}
    items = [({**base, "width": w}, list(cfg.seeds)) for w in cfg.widths]
    runs = RunStore(cfg.name).sweep(items, partial(_unit, cfg), executor=executor)
    first = runs[0].result
    return {"dataset": cfg.dataset, "source": runs[0].data_source, "n_train": first["n_train"],
            "n_test": first["n_test"], "num_classes": first["num_classes"],
            "threshold": first["n_train"] * first["num_classes"],
            "label_noise": cfg.label_noise, "labels_changed": first["labels_changed"],
            "epochs": cfg.epochs, "widths": [r.result for r in runs]}


def _column(entry: dict, key: str, epoch: int | None = None) -> np.ndarray:
    """Per seed: ``key`` at the end of training, or, for ``train_error``/``test_error`` and
    an ``epoch`` in the recorded history, at that epoch."""
    if epoch is not None:
        acc = key.replace("_error", "_acc")
        return 1 - np.array([r["history"][acc][r["history"]["epoch"].index(epoch)]
                             for r in entry["rows"]])
    if key.endswith("_error"):
        return 1 - np.array([r[key.replace("_error", "_acc")] for r in entry["rows"]])
    return np.array([r[key] for r in entry["rows"]], dtype=float)


def first_width(results: dict, key: str = "train_error", value: float = 0.0) -> dict | None:
    """The first width at which every seed has ``key`` exactly equal to ``value`` at the end
    of training.

    Args:
        results: from :func:`run`.
        key: a per-seed quantity (``train_error``, ``noisy_labels_fitted``, ...).
        value: the value every seed must have (0 train error; 1: every changed label fitted).

    Returns:
        That width's entry of ``results["widths"]``, or None if no width has it.
    """
    for e in results["widths"]:
        if np.all(_column(e, key) == value):
            return e
    return None


def first_interpolating(results: dict) -> dict | None:
    """The first width at which every seed has exactly zero training error on the noisy
    labels (None if none does)."""
    return first_width(results, "train_error", 0.0)


def summary(results: dict) -> list[dict]:
    """Per width: parameters (and as a multiple of n·K), train error on the noisy labels,
    the fraction of the changed labels fitted, test error and loss, train loss (mean ± 95% t
    half-width over seeds, as text)."""
    from hw1.report import ci

    return [{"width": e["width"], "params": e["n_params"],
             "params / n·K": e["n_params"] / results["threshold"],
             "train error (noisy labels)": ci(_column(e, "train_error")),
             "changed labels fitted": ci(_column(e, "noisy_labels_fitted")),
             "test error": ci(_column(e, "test_error")),
             "train loss": ci(_column(e, "train_loss")),
             "test loss": ci(_column(e, "test_loss"))}
            for e in results["widths"]]


def summary_table(results: dict,
                  shown: tuple[int, ...] = (2, 6, 8, 10, 16, 20, 30, 40, 50, 100, 200, 400)):
    """:func:`summary` as a display table; every width goes to
    ``tables/double_descent_by_width.csv``.

    Args:
        results: from :func:`run`.
        shown: the widths displayed when there are more widths than a shown table holds
            (all of them otherwise).

    Returns:
        A DataFrame, one row per shown width.
    """
    from hw1.report import MAX_ROWS, long_table

    rows = summary(results)
    keep = (None if len(rows) <= MAX_ROWS
            else [i for i, r in enumerate(rows) if r["width"] in shown])
    return long_table(rows, "double_descent_by_width", keep=keep)


def landmarks(results: dict):
    """Where things happen, in parameters and as a multiple of n·K: the test-error and
    test-loss peaks (:func:`peak`), the first width at which every seed fits every changed
    label, the first width with zero train error in every seed (both at the end of
    training), and n·K itself.

    Args:
        results: from :func:`run`.

    Returns:
        A DataFrame with columns ``where``, ``width``, ``params``, ``params / n·K``.
    """
    from hw1.report import table

    by_width = {e["width"]: e for e in results["widths"]}
    found = []
    for key in ("test_error", "test_loss"):
        rows = peak(results, key)
        found.append((f"{key.replace('_', ' ')} peak",
                      by_width[rows[0]["peak width"]] if rows else None))
    found.append(("all changed labels fitted (every seed)",
                  first_width(results, "noisy_labels_fitted", 1.0)))
    found.append(("first width with 0 train error (every seed)", first_interpolating(results)))
    out = [{"where": name, "width": e["width"], "params": e["n_params"],
            "params / n·K": e["n_params"] / results["threshold"]} if e is not None
           else {"where": name, "width": "none", "params": "", "params / n·K": ""}
           for name, e in found]
    out.append({"where": f"n·K = {results['n_train']:,} images × {results['num_classes']} "
                         "classes", "width": "", "params": results["threshold"],
                "params / n·K": 1.0})
    return table(out)


def peak(results: dict, key: str = "test_error", epoch: int | None = None) -> list[dict]:
    """Locate the peak of ``key`` (mean over seeds) that follows a descent.

    Candidates are the interior local maxima of the mean curve over widths (a mean at least
    as high as both neighbours' means). For each, the classical optimum is the lowest mean
    among all smaller widths; the peak is the candidate that rises most above its optimum.
    There is none when the curve has no interior local maximum. Both widths are chosen after
    looking at the means, so the Welch intervals below (which ignore that selection) are
    optimistic.

    Args:
        results: from :func:`run`.
        key: ``test_error``, ``test_loss``, ...; at the end of training, or
        epoch: at this recorded epoch (``test_error`` and ``train_error`` only).

    Returns:
        Two rows, each a difference with its 95% Welch t-interval: peak minus classical
        optimum, and peak minus the largest width (``minus width``); with the peak's
        parameters as a multiple of n·K. Empty when there is no peak.
    """
    widths = results["widths"]
    means = np.array([_column(e, key, epoch).mean() for e in widths])
    choice, rise = None, 0.0
    for top in range(1, len(widths) - 1):
        left = int(np.argmin(means[:top]))
        if (means[top] >= means[top - 1] and means[top] >= means[top + 1]
                and means[top] - means[left] > rise):
            choice, rise = (left, top), means[top] - means[left]
    if choice is None:
        return []
    best, top = choice
    rows = []
    for other, name in ((best, "classical optimum"), (len(widths) - 1, "largest width")):
        rows.append({"quantity": key, "epoch": epoch or results.get("epochs"),
                     "peak width": widths[top]["width"], "peak params": widths[top]["n_params"],
                     "peak params / nK": round(widths[top]["n_params"] / results["threshold"], 3),
                     "minus": f"{name} (width {widths[other]['width']})",
                     "minus width": widths[other]["width"],
                     **welch_difference(_column(widths[top], key, epoch),
                                        _column(widths[other], key, epoch))})
    return rows


def peak_table(results: dict):
    """The test-error and test-loss peaks at the end of training, each minus the classical
    optimum and minus the largest width, and the largest width minus the classical optimum,
    each with the 95% Welch interval of the difference.

    Args:
        results: from :func:`run`.

    Returns:
        A DataFrame, three rows per quantity (one row saying "none" if it has no peak).
    """
    from hw1.report import diff, table

    widths = results["widths"]
    out = []
    for key in ("test_error", "test_loss"):
        rows = peak(results, key)
        if not rows:
            out.append({"quantity": key.replace("_", " "), "peak width": "none"})
            continue
        for r in rows:
            out.append({"quantity": key.replace("_", " "), "peak width": r["peak width"],
                        "peak params / n·K": r["peak params"] / results["threshold"],
                        "difference": f"peak − {r['minus']}",
                        "difference [95% CI]": diff(r["difference"], r["ci95_low"],
                                                    r["ci95_high"]),
                        "CI excludes 0": r["excludes_0"]})
        best = next(e for e in widths if e["width"] == rows[0]["minus width"])
        w = welch_difference(_column(widths[-1], key), _column(best, key))
        out.append({"quantity": key.replace("_", " "), "peak width": rows[0]["peak width"],
                    "peak params / n·K": rows[0]["peak params"] / results["threshold"],
                    "difference": f"width {widths[-1]['width']} − width {best['width']}",
                    "difference [95% CI]": diff(w["difference"], w["ci95_low"],
                                                w["ci95_high"]),
                    "CI excludes 0": w["excludes_0"]})
    return table(out)


def recorded_epochs(results: dict) -> list[int]:
    """The epochs at which every model's train and test accuracy were recorded."""
    return [ep for ep in results["widths"][0]["rows"][0]["history"]["epoch"] if ep > 0]


def error_by_epoch(results: dict, key: str = "test_error",
                   shown: tuple[int, ...] = (2, 6, 20, 30, 40, 50, 100, 400)):
    """The mean of ``key`` over seeds, one row per recorded epoch and one column per width
    (the budget's effect, from the stored histories). Every width goes to a CSV file; the
    displayed table keeps the widths ``shown`` when there are more than eight widths.

    Args:
        results: from :func:`run`.
        key: ``test_error`` or ``train_error`` (on the noisy labels).
        shown: the widths displayed when there are more than eight.

    Returns:
        A DataFrame with columns ``epoch``, ``width 2``, ``width 6``, ...
    """
    from hw1.report import long_table

    widths = [e["width"] for e in results["widths"]]
    rows = [{"epoch": ep, **{f"width {e['width']}": float(_column(e, key, ep).mean())
                             for e in results["widths"]}}
            for ep in recorded_epochs(results)]
    out = long_table(rows, f"double_descent_{key}_by_epoch", show=len(rows))
    if len(widths) > 8:
        keep = [w for w in widths if w in shown]
        print(f"{len(keep)} of {len(widths)} widths shown; the file holds all of them")
        out = out[["epoch"] + [f"width {w}" for w in keep]]
    return out


def peaks_over_epochs(results: dict):
    """At every recorded epoch: the test-error peak and classical optimum found by
    :func:`peak` and the rise between them with its 95% Welch interval (a row saying "none"
    when the curve has no peak at that epoch).

    Args:
        results: from :func:`run`.

    Returns:
        A DataFrame, one row per recorded epoch.
    """
    from hw1.report import diff, table

    out = []
    for ep in recorded_epochs(results):
        rows = peak(results, "test_error", ep)
        if not rows:
            out.append({"epoch": ep, "peak width": "none"})
            continue
        r = rows[0]
        out.append({"epoch": ep, "peak width": r["peak width"],
                    "peak params / n·K": r["peak params"] / results["threshold"],
                    "classical optimum width": r["minus width"],
                    "rise above it [95% CI]": diff(r["difference"], r["ci95_low"],
                                                   r["ci95_high"]),
                    "CI excludes 0": r["excludes_0"]})
    return table(out)


def _band(ax: plt.Axes, params: np.ndarray, per_width: list[np.ndarray], **kw) -> None:
    """The mean over seeds against parameters as a line, with its 95% t interval (the one
    the tables print) shaded.

    Args:
        ax: axes to draw on.
        params: ``(W,)`` parameter counts.
        per_width: ``W`` arrays of per-seed values.
        **kw: line style, colour and label, for ``ax.plot``.
    """
    mean, half = np.array([t_interval(v) for v in per_width]).T
    half = np.nan_to_num(half)
    (line,) = ax.plot(params, mean, **kw)
    ax.fill_between(params, mean - half, mean + half, color=line.get_color(), alpha=0.2,
                    linewidth=0)


def _parameter_axis(ax: plt.Axes) -> None:
    """Log x axis of parameter counts, labelled in plain numbers at 1, 3, 10, 30, ... × 10^k."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 3.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("number of parameters (log scale)")


def _width_axis(ax: plt.Axes, results: dict, min_gap: float = 0.12) -> None:
    """Mark the top of a parameters axis with the hidden widths ``w``: a tick at every width,
    labelled where the label has room (at least ``min_gap`` decades from another label),
    the widths the peaks and landmarks name taking precedence.

    Args:
        ax: axes whose x axis counts parameters (log scale).
        results: from :func:`run`.
        min_gap: the smallest distance between two labelled ticks, in decades of parameters.
    """
    from matplotlib.ticker import NullLocator

    widths = results["widths"]
    params = {e["width"]: e["n_params"] for e in widths}
    named = [r[k] for key in ("test_error", "test_loss") for r in peak(results, key)
             for k in ("peak width", "minus width")]
    named += [e["width"] for e in (first_width(results, "noisy_labels_fitted", 1.0),
                                   first_interpolating(results)) if e is not None]
    labelled: list[int] = []
    for w in [*named, *(e["width"] for e in widths)]:
        if w not in labelled and all(abs(np.log10(params[w] / params[v])) >= min_gap
                                     for v in labelled):
            labelled.append(w)
    top = ax.secondary_xaxis("top")
    top.set_xticks([e["n_params"] for e in widths],
                   labels=[str(e["width"]) if e["width"] in labelled else ""
                           for e in widths])
    top.xaxis.set_minor_locator(NullLocator())
    top.set_xlabel("hidden width w", fontsize=9)


def _mark_threshold(ax: plt.Axes, results: dict) -> None:
    """n·K as a grey dotted vertical line, named at the top of the panel."""
    ax.axvline(results["threshold"], color="grey", ls=":", lw=1.2,
               label=f"n·K = {results['n_train']:,} images × {results['num_classes']} classes"
                     f" = {results['threshold']:,} parameters")
    ax.annotate("n·K", (results["threshold"], 1), xycoords=("data", "axes fraction"),
                xytext=(3, -3), textcoords="offset points", ha="left", va="top",
                color="grey", fontsize=9)


def _title(results: dict, what: str) -> str:
    seeds = len(results["widths"][0]["rows"])
    label = dataset_label(results["source"], results["dataset"])
    return (f"{label}, {results['n_train']:,} training images, {results['labels_changed']:.1%}"
            f" of labels changed: one-hidden-layer MLPs, {what}\n"
            f"{seeds} seeds per width; band: 95% t interval over seeds")


def figure_by_width(results: dict) -> plt.Figure:
    """Error and cross-entropy against parameters (log x; hidden widths on the top axis) after
    the whole budget: train (on the noisy labels) solid, train error on the changed labels
    only, test (true labels) dashed; n·K, the first width fitting every changed label and the
    first width with zero train error each marked. Saved as ``double_descent``.

    Args:
        results: from :func:`run`.

    Returns:
        The figure.
    """
    widths = results["widths"]
    params = np.array([e["n_params"] for e in widths])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    curves = (("train", "o-", "C0", "train (noisy labels)"),
              ("test", "s--", "C3", "test (true labels)"))
    for ax, key, ylabel in ((axes[0], "error", "error"), (axes[1], "loss", "cross-entropy")):
        for split, fmt, color, label in curves:
            _band(ax, params, [_column(e, f"{split}_{key}") for e in widths], color=color,
                  marker=fmt[0], ls=fmt[1:], ms=3.5, label=label)
        if key == "error":
            _band(ax, params, [1 - _column(e, "noisy_labels_fitted") for e in widths],
                  color="C2", marker="^", ls="-", ms=3.5, lw=1,
                  label="train, changed labels only (left panel)")
        _mark_threshold(ax, results)
        _parameter_axis(ax)
        _width_axis(ax, results)
        ax.set(ylabel=ylabel, title=f"{ylabel} after {results['epochs']} epochs")
    for e, marker, color, text in (
            (first_width(results, "noisy_labels_fitted", 1.0), "D", "C2",
             "first width fitting every changed label"),
            (first_interpolating(results), "v", "k", "first width with 0 train error")):
        if e is not None:
            axes[0].plot([e["n_params"]], [0], marker, mfc="none", mec=color, mew=1.8, ms=10,
                         ls="none", clip_on=False, zorder=5,
                         label=f"left panel: {text} in every seed, width {e['width']} "
                               f"({e['n_params']:,} parameters)")
    axes[0].set_ylim(-0.02, 1.0)  # an error lies in [0, 1]; a wider interval is cut there
    axes[1].set_ylim(bottom=0)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
    fig.suptitle(_title(results, f"{results['epochs']} epochs each"), fontsize=10)
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    save_figure(fig, "double_descent")
    return fig


def shown_epochs(results: dict) -> list[int]:
    """The recorded epochs that :func:`figure_over_training` draws: the first, the middle
    one and the last."""
    epochs = recorded_epochs(results)
    return sorted({epochs[0], epochs[(len(epochs) - 1) // 2], epochs[-1]})


def figure_over_training(results: dict) -> plt.Figure:
    """Test error and train error (noisy labels) against parameters (log x; hidden widths on
    the top axis) at the first,
    middle and last recorded epochs (:func:`shown_epochs`), n·K marked. Saved as
    ``double_descent_over_training``.

    Args:
        results: from :func:`run`.

    Returns:
        The figure.
    """
    widths = results["widths"]
    params = np.array([e["n_params"] for e in widths])
    shown = shown_epochs(results)
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(shown)))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, key, fmt, ylabel in ((axes[0], "test_error", "s--", "test error (true labels)"),
                                 (axes[1], "train_error", "o-", "train error (noisy labels)")):
        for ep, color in zip(shown, colors, strict=True):
            _band(ax, params, [_column(e, key, ep) for e in widths], color=color,
                  marker=fmt[0], ls=fmt[1:], ms=3.5, label=f"epoch {ep}")
        _mark_threshold(ax, results)
        _parameter_axis(ax)
        _width_axis(ax, results)
        ax.set(ylabel=ylabel, title=f"{ylabel} during training")
        ax.set_ylim(-0.02, 1.0)  # an error lies in [0, 1]; a wider interval is cut there
    handles = [plt.Line2D([], [], color=color, lw=2.5, label=f"epoch {ep}")
               for ep, color in zip(shown, colors, strict=True)]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.suptitle(_title(results, f"at {len(shown)} of the recorded epochs"), fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    save_figure(fig, "double_descent_over_training")
    return fig


def make_figures(results: dict) -> list[plt.Figure]:
    """Every figure of the notebook: :func:`figure_by_width` and
    :func:`figure_over_training`."""
    return [figure_by_width(results), figure_over_training(results)]
