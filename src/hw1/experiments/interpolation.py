"""HW1-3 flatness part 1 (interpolation, Goodfellow et al. 2015; the homework's batch-size
version after Keskar et al. 2017): models trained to the same train-loss criterion except for
the batch size (one pair) or the learning rate (another), from the same initialization and
from independent ones; loss and accuracy along θ(α) = (1 − α)·θ_a + α·θ_b, and
filter-normalized 1-D loss curves around each endpoint (Li et al. 2018)."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import stats
from torch import nn

from hw1.config import ExperimentConfig
from hw1.data import DATASETS, dataset_label, load_subset
from hw1.ensemble import train_ensemble

# t_interval is no longer used here (tables format intervals with hw1.report.ci), but the
# module-level statements are part of the run fingerprint (hw1.fingerprint), so they stay
from hw1.intervals import t_interval, welch_difference  # noqa: F401
from hw1.metrics import filter_normalized_direction, interpolate, loss_on_plane
from hw1.models import image_mlp
from hw1.plotting import band, save_figure
from hw1.store import RunStore
from hw1.training import Criterion, evaluate

ENDPOINTS = ("base", "large_batch", "large_lr", "base_independent",
             "large_batch_independent", "large_lr_independent")
PAIRS = {  # pair name: (endpoint at α = 0, endpoint at α = 1)
    "control: same settings, independent init": ("base", "base_independent"),
    "batch size, same init": ("base", "large_batch"),
    "batch size, independent init": ("base", "large_batch_independent"),
    "learning rate, same init": ("base", "large_lr"),
    "learning rate, independent init": ("base", "large_lr_independent"),
}
INDEPENDENT_OFFSET = 100
"""Independent initializations (and batch orders) use seed + this."""


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the interpolation experiment.

    Attributes:
        dataset, n_train, n_test: data (seeded subset).
        widths: hidden widths of the MLP.
        batch_sizes: (base, large) batch sizes, both at ``lrs[0]``.
        lrs: (base, large) Adam learning rates, both at ``batch_sizes[0]``.
        target_train_loss, max_steps: every endpoint trains until its full-training-set loss
            is at most ``target_train_loss`` (checked after each epoch), or ``max_steps``
            optimizer steps (the criterion regime of notebook 10).
        seeds: one endpoint of each kind per seed; independent partners use seed + 100.
        alphas: points of the coarse α grid from ``alpha_range[0]`` to ``alpha_range[1]``.
        fine_halfwidth, fine_points: a finer grid of ``fine_points`` values on
            ``[a − fine_halfwidth, a + fine_halfwidth]`` around a = 0 and a = 1.
        line_points, line_range: the filter-normalized curves take ``line_points`` values of
            t on ``[−line_range, line_range]``.
        line_directions: random directions per endpoint; its curve is their mean.
    """

    name: ClassVar[str] = "interpolation"
    positive: ClassVar[tuple[str, ...]] = ("n_train", "n_test", "widths", "batch_sizes", "lrs",
                                           "target_train_loss", "max_steps", "alphas",
                                           "fine_halfwidth", "fine_points", "line_points",
                                           "line_range", "line_directions")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"dataset": DATASETS}
    dataset: str = "mnist"
    n_train: int = 10_000
    n_test: int = 2_000
    widths: tuple[int, ...] = (64, 64)
    batch_sizes: tuple[int, ...] = (64, 1024)
    lrs: tuple[float, ...] = (1e-3, 5e-3)
    target_train_loss: float = 0.01
    max_steps: int = 20_000
    seeds: tuple[int, ...] = (0, 1, 2)
    alphas: int = 31
    alpha_range: tuple[float, ...] = (-1.0, 2.0)
    fine_halfwidth: float = 0.1
    fine_points: int = 21
    line_points: int = 41
    line_range: float = 1.0
    line_directions: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.batch_sizes) != 2 or len(self.lrs) != 2:
            raise ValueError("batch_sizes and lrs must each be a pair (two values)")
        if len(self.seeds) < 2:
            raise ValueError(f"need at least 2 seeds for bands and intervals, got {self.seeds}")
        self.criterion()  # a malformed criterion fails here, before any training

    def criterion(self) -> Criterion:
        """Every endpoint's stopping rule."""
        return Criterion(train_loss_at_most=self.target_train_loss, max_steps=self.max_steps)

    def alpha_grid(self) -> np.ndarray:
        """The coarse grid with the fine grids around 0 and 1, sorted and without repeats."""
        coarse = np.linspace(*self.alpha_range, self.alphas)
        fine = [np.linspace(a - self.fine_halfwidth, a + self.fine_halfwidth, self.fine_points)
                for a in (0.0, 1.0)]
        return np.unique(np.round(np.concatenate([coarse, *fine]), 10))

    def endpoint(self, kind: str) -> dict:
        """Batch size, learning rate and seed offset of an endpoint kind."""
        batch = self.batch_sizes[1] if "large_batch" in kind else self.batch_sizes[0]
        lr = self.lrs[1] if "large_lr" in kind else self.lrs[0]
        return {"batch_size": batch, "lr": lr,
                "seed_offset": INDEPENDENT_OFFSET if kind.endswith("independent") else 0}


Config.register(full=Config(), smoke=Config(dataset="digits", n_train=500, n_test=200,
                                            widths=(16,), batch_sizes=(16, 128),
                                            lrs=(1e-3, 3e-3), target_train_loss=0.3,
                                            max_steps=300, seeds=(0, 1), alphas=7,
                                            fine_points=5, line_points=9, line_directions=2))


DIRECTION_SEED = 1_000_003
"""Direction k of seed s is drawn from ``Generator(DIRECTION_SEED * (s + 1) + k)``: a stream
apart from the initializations (``torch.manual_seed(s)``), so that a direction is not built
from the random numbers that made the initial weights."""


def _data(cfg: Config):
    return load_subset(cfg.dataset, cfg.n_train, cfg.n_test)


def _new_model(cfg: Config, data, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return image_mlp(data.input_shape, cfg.widths, data.num_classes)


def _data_spec(cfg: Config) -> dict:
    return {k: v for k, v in cfg.to_dict().items()
            if k in ("dataset", "n_train", "n_test", "widths", "target_train_loss", "max_steps")}


def _train_unit(cfg: Config, spec: dict, seeds: list[int]) -> tuple[dict, str, dict]:
    d = _data(cfg)
    e = spec["endpoint"]
    models = [_new_model(cfg, d, s) for s in seeds]
    hists, ens = train_ensemble(models, d.x_train, d.y_train, d.x_test, d.y_test,
                                batch_size=e["batch_size"], lr=e["lr"], seeds=seeds,
                                until=cfg.criterion(),
                                desc=f"batch {e['batch_size']}, lr {e['lr']:g}")
    flat = ens.flat_params().cpu()  # (R, P)
    rows = [{"seed": s, "steps": h.steps, "epochs": h.epoch[-1], "reached": h.reached,
             "train_loss": h.train_loss[-1], "test_loss": h.test_loss[-1],
             "train_acc": h.train_acc[-1], "test_acc": h.test_acc[-1],
             "weight_norm": float(flat[r].norm())}
            for r, (s, h) in enumerate(zip(seeds, hists, strict=True))]
    return {"rows": rows}, d.source, {"params": flat.numpy()}


def _model_from(cfg: Config, data, flat: np.ndarray) -> nn.Module:
    model = _new_model(cfg, data, 0)
    nn.utils.vector_to_parameters(torch.as_tensor(flat), model.parameters())
    return model.eval()


def _evaluate_all(model: nn.Module, data) -> dict[str, float]:
    out = {}
    for split, (x, y) in (("train", (data.x_train, data.y_train)),
                          ("test", (data.x_test, data.y_test))):
        out[f"{split}_loss"], out[f"{split}_acc"] = evaluate(model, nn.functional.cross_entropy,
                                                             x, y)
    return out


def _curves_unit(cfg: Config, params: dict[str, np.ndarray], spec: dict,
                 seeds: list[int]) -> tuple[dict, str]:
    """Interpolation curves of every pair and the filter-normalized lines of every endpoint,
    per seed (the endpoints' parameters are passed in, already trained)."""
    d = _data(cfg)
    alphas = cfg.alpha_grid()
    curves = {}
    for pair, (a, b) in PAIRS.items():
        per_seed = []
        for r in range(len(seeds)):
            ma, mb = _model_from(cfg, d, params[a][r]), _model_from(cfg, d, params[b][r])
            points = [_evaluate_all(interpolate(ma, mb, float(al)), d) for al in alphas]
            per_seed.append({**{k: [p[k] for p in points] for k in points[0]},
                             "distance": float(np.linalg.norm(params[b][r] - params[a][r]))})
        curves[pair] = per_seed
    ts = torch.linspace(-cfg.line_range, cfg.line_range, cfg.line_points)
    lines = {}
    ce = nn.functional.cross_entropy
    for kind in ENDPOINTS:
        per_seed = []
        for r, seed in enumerate(seeds):
            model = _model_from(cfg, d, params[kind][r])
            # the same K Gaussian draws for every endpoint kind of seed index r (paired),
            # each filter-normalized to this endpoint's own weights; the curve is their mean
            curve = {"train_loss": torch.zeros(len(ts), dtype=torch.float64),
                     "test_loss": torch.zeros(len(ts), dtype=torch.float64)}
            for k in range(cfg.line_directions):
                gen = torch.Generator().manual_seed(DIRECTION_SEED * (seed + 1) + k)
                direction = filter_normalized_direction(model, gen)
                for split, (x, y) in (("train", (d.x_train, d.y_train)),
                                      ("test", (d.x_test, d.y_test))):
                    curve[f"{split}_loss"] += loss_on_plane(model, ce, x, y, direction, None,
                                                            ts) / cfg.line_directions
            per_seed.append({k: v.tolist() for k, v in curve.items()})
        lines[kind] = per_seed
    return {"alphas": alphas.tolist(), "curves": curves, "t": ts.tolist(), "lines": lines}, \
        d.source


def run(cfg: Config, executor: Executor | None = None) -> dict:
    """Train (or load) every endpoint kind (all seeds at once), then compute (or load) the
    interpolation curves and the filter-normalized lines.

    Args:
        cfg: the experiment's settings.
        executor: trains the missing endpoint ensembles; None: here, one after another.

    Returns:
        ``{"dataset", "source", "criterion", "endpoints": {kind: {"setting", "rows"}},
        "alphas", "curves": {pair: [per seed {metric: (A,)}]}, "t", "lines": {kind: [per
        seed {"train_loss", "test_loss": (T,)}]}}``.
    """
    store = RunStore(cfg.name)
    base = _data_spec(cfg)
    settings = {kind: cfg.endpoint(kind) for kind in ENDPOINTS}
    items = [({**base, "endpoint": settings[k]},
              [s + settings[k]["seed_offset"] for s in cfg.seeds]) for k in ENDPOINTS]
    trained = store.sweep(items, partial(_train_unit, cfg), executor=executor)
    params = {k: run.arrays["params"] for k, run in zip(ENDPOINTS, trained, strict=True)}
    curve_spec = {**base, "curves": cfg.to_dict()}
    (stored,) = store.sweep([(curve_spec, list(cfg.seeds))],
                            partial(_curves_unit, cfg, params))
    return {"dataset": cfg.dataset, "source": stored.data_source,
            "criterion": cfg.criterion().describe(), "line_directions": cfg.line_directions,
            "endpoints": {k: {"setting": settings[k], "rows": run.result["rows"]}
                          for k, run in zip(ENDPOINTS, trained, strict=True)},
            **stored.result}


def paired_difference(a, b) -> dict[str, float | bool]:
    """``mean(a − b)`` over pairs ``(a[i], b[i])`` ``(n,)`` with its 95% paired t-interval
    (``scipy.stats.ttest_rel``), keyed like :func:`hw1.intervals.welch_difference`."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    low, high = stats.ttest_rel(a, b).confidence_interval(0.95)
    return {"difference": float((a - b).mean()), "ci95_low": float(low),
            "ci95_high": float(high), "excludes_0": bool(low > 0 or high < 0)}


def _label(setting: dict) -> str:
    return f"batch {setting['batch_size']}, lr {setting['lr']:g}"


def _kind_label(kind: str) -> str:
    """A plain name for an endpoint kind (``"large_batch_independent"`` → ``"large batch,
    independent init"``; the independent base endpoint is the control).

    Args:
        kind: a key of ``results["endpoints"]``.

    Returns:
        The display name.
    """
    if kind == "base_independent":
        return "control (base, independent init)"
    if kind == "base":
        return "base"
    name = kind.removesuffix("_independent").replace("_", " ")
    return f"{name}, {'independent' if kind.endswith('_independent') else 'same'} init"


def endpoint_table(results: dict):
    """Per endpoint kind: optimizer steps (range over seeds), how many seeds met the
    criterion, the final train and test loss, test accuracy, generalization gap (test −
    train loss) and weight norm ‖θ‖₂, each mean ± 95% t half-width over seeds."""
    from hw1.report import ci, table

    rows = []
    for kind, e in results["endpoints"].items():
        r = e["rows"]
        col = {k: [x[k] for x in r] for k in r[0]}
        rows.append({"endpoint": _kind_label(kind), "setting": _label(e["setting"]),
                     "seeds": ",".join(map(str, col["seed"])),
                     "steps": f"{min(col['steps'])}–{max(col['steps'])}",
                     "criterion met": f"{sum(bool(v) for v in col['reached'])}/{len(r)}",
                     "train loss": ci(col["train_loss"]), "test loss": ci(col["test_loss"]),
                     "test accuracy": ci(col["test_acc"]),
                     "test − train loss": ci(np.subtract(col["test_loss"], col["train_loss"])),
                     "‖θ‖₂": ci(col["weight_norm"])})
    return table(rows)


def _barriers(results: dict, pair: str) -> np.ndarray:
    """Per seed: max over α in [0, 1] of the train loss above the chord between its ends."""
    alphas = np.asarray(results["alphas"])
    inside = (alphas >= 0) & (alphas <= 1)
    i0, i1 = int(np.argmin(np.abs(alphas))), int(np.argmin(np.abs(alphas - 1)))
    out = []
    for c in results["curves"][pair]:
        loss = np.asarray(c["train_loss"])
        out.append(float(np.max((loss - (loss[i0] + (loss[i1] - loss[i0]) * alphas))[inside])))
    return np.array(out)


def barrier_differences(results: dict):
    """Barrier of each independent-init pair minus its same-init pair, and of the control
    pair (same settings, independent seed: initialization and batch order) minus each
    same-init pair, with 95% paired t-intervals over seeds (:func:`paired_difference`):
    every pair of seed s starts from the same base endpoint θ₀ of seed s."""
    from hw1.report import diff, table

    def cells(a, b) -> dict[str, str]:
        d = paired_difference(a, b)
        return {"difference [95% paired CI]": diff(d["difference"], d["ci95_low"],
                                                   d["ci95_high"]),
                "CI excludes 0": "yes" if d["excludes_0"] else "no"}

    rows = []
    for factor in ("batch size", "learning rate"):
        same, indep = (_barriers(results, f"{factor}, {k} init") for k in ("same",
                                                                             "independent"))
        rows.append({"comparison": f"{factor}: independent − same init", **cells(indep, same)})
    control = _barriers(results, "control: same settings, independent init")
    for factor in ("batch size", "learning rate"):
        same = _barriers(results, f"{factor}, same init")
        rows.append({"comparison": f"control − {factor}, same init", **cells(control, same)})
    return table(rows)


def pair_table(results: dict):
    """Per pair: the distance ‖θ₁ − θ₀‖₂, the train-loss barrier on the segment (max over the
    grid's α in [0, 1] of L(α) minus the straight line between L(0) and L(1): a lower bound
    set by the grid), the worst test accuracy on [0, 1] (mean of per-seed minima) and the
    train loss at α = 1 (at α = 0 every pair starts from the base endpoint, whose train loss
    :func:`endpoint_table` shows), mean ± 95% t half-width over seeds."""
    from hw1.report import ci, table

    alphas = np.asarray(results["alphas"])
    inside = (alphas >= 0) & (alphas <= 1)
    i1 = int(np.argmin(np.abs(alphas - 1)))
    rows = []
    for pair, per_seed in results["curves"].items():
        worst_acc = [float(np.min(np.asarray(c["test_acc"])[inside])) for c in per_seed]
        rows.append({"pair": pair, "‖θ₁ − θ₀‖₂": ci([c["distance"] for c in per_seed]),
                     "train-loss barrier": ci(_barriers(results, pair)),
                     "min test accuracy on [0, 1]": ci(worst_acc),
                     "train loss at α=1": ci([c["train_loss"][i1] for c in per_seed])})
    return table(rows)


def outer_loss_table(results: dict):
    """Per pair: the train loss at the ends of the whole α grid (``alpha_range``: α = −1 and
    α = 2 in both profiles), mean ± 95% t half-width over seeds and the lowest–highest seed,
    which shows how lopsided the curve is outside the segment."""
    from hw1.report import ci, num, table

    alphas = np.asarray(results["alphas"])
    rows = []
    for pair, per_seed in results["curves"].items():
        row = {"pair": pair}
        for i in (0, len(alphas) - 1):
            at = f"α={alphas[i]:g}".replace("-", "−")
            values = [c["train_loss"][i] for c in per_seed]
            row[f"train loss at {at}"] = ci(values)
            row[f"{at}: lowest–highest seed"] = f"{num(min(values))}–{num(max(values))}"
        rows.append(row)
    return table(rows)


def _line_increase(results: dict, kind: str, t_abs: float, split: str = "train") -> np.ndarray:
    """Per seed: mean over ±t_abs of L(θ + t d) − L(θ) along the filter-normalized line."""
    t = np.asarray(results["t"])
    centre = int(np.argmin(np.abs(t)))
    sides = [int(np.argmin(np.abs(t - s * t_abs))) for s in (-1, 1)]
    return np.array([np.mean([c[f"{split}_loss"][i] for i in sides]) - c[f"{split}_loss"][centre]
                     for c in results["lines"][kind]])


def line_table(results: dict, t_values: tuple[float, ...] = (0.25, 0.5)):
    """Per endpoint kind: the train-loss increase along its filter-normalized direction at
    |t| = each of ``t_values`` (mean of both sides), mean ± 95% t half-width over seeds."""
    from hw1.report import ci, table

    return table([{"endpoint": _kind_label(kind), "setting": _label(e["setting"]),
                   **{f"ΔL_train at |t|={t:g}": ci(_line_increase(results, kind, t))
                      for t in t_values}}
                  for kind, e in results["endpoints"].items()])


def differences_from_base(results: dict, t_abs: float = 0.5):
    """Each large-batch or large-lr endpoint minus the base endpoint, as "difference [95%
    interval]": paired over seeds for the same-init partners (they share the base's
    initialization and directions; :func:`paired_difference`), Welch for the independent ones.
    One row per changed setting and quantity: the filter-normalized train-loss increase at
    |t| = ``t_abs``, the weight norm, and the test accuracy and loss."""
    from hw1.report import diff, table

    base = results["endpoints"]["base"]
    quantities = {f"ΔL_train at |t|={t_abs:g}": None, "‖θ‖₂": "weight_norm",
                  "test accuracy": "test_acc", "test loss": "test_loss"}

    def values(kind: str, key: str | None) -> np.ndarray:
        if key is None:
            return _line_increase(results, kind, t_abs)
        return np.array([r[key] for r in results["endpoints"][kind]["rows"]])

    rows = []
    for other in ("large_batch", "large_lr"):
        change = f"{_label(results['endpoints'][other]['setting'])} − {_label(base['setting'])}"
        for what, key in quantities.items():
            row = {"change": change, "quantity": what}
            for kind, compare, column in (
                    (other, paired_difference, "same init (paired)"),
                    (f"{other}_independent", welch_difference, "independent init (Welch)")):
                d = compare(values(kind, key), values("base", key))
                row[column] = diff(d["difference"], d["ci95_low"], d["ci95_high"])
            rows.append(row)
    return table(rows)


def summary(results: dict):
    """The endpoint table (the notebook prints the pair, line and difference tables too)."""
    return endpoint_table(results)


def _pair_title(results: dict, pair: str) -> str:
    a, b = (results["endpoints"][k]["setting"] for k in PAIRS[pair])
    return f"{pair}\n{_label(a)} → {_label(b)}"


def _curve_band(ax: plt.Axes, x: np.ndarray, runs: np.ndarray, metric: str,
                color: str, ls: str) -> np.ndarray:
    """Draw one split's curve over seeds with its band.

    A loss is drawn on log10 loss: the line is the geometric mean over seeds (the mean of
    log10 loss) and the band the 95% t interval of log10 loss over seeds, mapped back to the
    loss, so the band stays positive on the log axis (a loss of exactly 0 is left out). An
    accuracy is drawn as the mean and its 95% t interval over seeds, clipped to [0, 1].

    Args:
        ax: axes to draw on.
        x: ``(T,)`` the α grid.
        runs: ``(R, T)`` one row per seed.
        metric: ``"loss"`` or ``"acc"``.
        color, ls: line colour and style.

    Returns:
        ``(T,)`` the top of what is drawn (the band's upper end), to tell where a capped axis
        clips it.
    """
    from hw1.plotting import t_band

    runs = np.asarray(runs, dtype=float)
    if metric == "loss":
        # a zero loss has no place on a log axis: it is left out, like a missing value
        positive = np.where(runs > 0, runs, np.nan)
        mean, low, high = (10.0 ** v for v in t_band(np.log10(positive)))
    else:
        mean, low, high = t_band(runs)
        low, high = np.clip(low, 0, 1), np.clip(high, 0, 1)
    ax.plot(x, mean, color=color, ls=ls)
    if len(runs) > 1:
        ax.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0)
    return high


def _curves_figure(results: dict, metric: str, name: str) -> plt.Figure:
    """One interpolation metric (``"loss"`` or ``"acc"``) along θ(α) for the five pairs, in a
    2 × 3 grid with one shared y-axis; the sixth panel holds the legend."""
    from hw1.plotting import MAX_WIDTH_IN

    # same init on top, independent init below, one column per changed setting (control: 3rd)
    grid = {"batch size, same init": (0, 0), "learning rate, same init": (0, 1),
            "batch size, independent init": (1, 0), "learning rate, independent init": (1, 1),
            "control: same settings, independent init": (1, 2)}
    alphas = np.asarray(results["alphas"])
    label = dataset_label(results["source"], results["dataset"])
    seeds = len(results["endpoints"]["base"]["rows"])
    cap = 1e2  # the loss axis stops here, so the barrier range (0.01 to 1) fills the panels
    fig, axes = plt.subplots(2, 3, figsize=(MAX_WIDTH_IN, 6.8), sharex=True, sharey=True)
    clipped = []
    for pair, per_seed in results["curves"].items():
        row, col = grid[pair]
        ax = axes[row, col]
        top = np.fmax.reduce([
            _curve_band(ax, alphas, np.array([c[f"{split}_{metric}"] for c in per_seed]),
                        metric, color, ls)
            for split, color, ls in (("train", "C0", "-"), ("test", "C3", "--"))])
        if metric == "loss" and np.any(top > cap):
            clipped.append((pair.split(",")[0], float(alphas[top > cap].max())))
        for x in (0, 1):
            ax.axvline(x, color="grey", lw=0.8, ls=":")
        ax.set_title(_pair_title(results, pair), fontsize=9)
    if metric == "loss":
        axes[0, 0].set_yscale("log")
        axes[0, 0].set_ylim(top=cap)
    else:  # the bands are clipped to the possible accuracies
        axes[0, 0].set_ylim(0, 1.02)
    for ax in axes[:, 0]:
        ax.set_ylabel("cross-entropy (log scale)" if metric == "loss" else "accuracy")
    for ax in axes[1]:
        ax.set_xlabel("α")
    key = axes[0, 2]
    key.axis("off")
    if metric == "loss":
        mean_label = "geometric mean over seeds"
        band_label = f"band: 95% t interval of log10 loss\nover {seeds} seeds"
    else:
        mean_label = "mean over seeds"
        band_label = f"band: 95% t interval over {seeds} seeds,\nclipped to [0, 1]"
    handles = [plt.Line2D([], [], color="C0", ls="-", label=f"train ({mean_label})"),
               plt.Line2D([], [], color="C3", ls="--", label=f"test ({mean_label})"),
               plt.Rectangle((0, 0), 1, 1, color="grey", alpha=0.3, label=band_label),
               plt.Line2D([], [], color="grey", ls=":", label="endpoints α = 0 and α = 1")]
    key.legend(handles=handles, loc="center", fontsize=9)
    if metric == "loss":
        note = "all panels share one y-axis"
        if clipped:
            names = " and ".join(sorted({what for what, _ in clipped}))
            last = max(a for _, a in clipped)
            note += (f";\ncapped at 10²: in the {names} panels\nthe bands or curves "
                     f"run above it for α ≤ {last:.2g}".replace("-", "−"))
        key.text(0.5, 0.1, note, transform=key.transAxes,
                 ha="center", va="center", fontsize=9, color="0.3")
    what = "Loss" if metric == "loss" else "Accuracy"
    fig.suptitle(f"{label}: {what.lower()} along θ(α) = (1−α)·θ₀ + α·θ₁; every endpoint "
                 f"trained to {results['criterion']}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, name)
    return fig


def loss_curves_figure(results: dict) -> plt.Figure:
    """Train and test cross-entropy along θ(α) for the five pairs, one shared log y-axis, so
    the barriers of the panels compare directly (the README's interpolation figure)."""
    return _curves_figure(results, "loss", "interpolation_curves")


def accuracy_curves_figure(results: dict) -> plt.Figure:
    """Train and test accuracy along θ(α) for the five pairs, one shared y-axis."""
    return _curves_figure(results, "acc", "interpolation_accuracy_curves")


def filter_normalized_figure(results: dict, t_abs: float = 0.5) -> plt.Figure:
    """Train and test loss along θ + t·d around each endpoint (d filter-normalized, mean over
    the directions per model), one line per setting: mean and 95% t band over the models of
    that setting (same- and independent-init endpoints pooled); dotted lines at |t| =
    ``t_abs``, where :func:`differences_from_base` compares the train-loss increase."""
    label = dataset_label(results["source"], results["dataset"])
    t = np.asarray(results["t"])
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.6), sharey=True)
    groups = {"base": ["base", "base_independent"],
              "large_batch": ["large_batch", "large_batch_independent"],
              "large_lr": ["large_lr", "large_lr_independent"]}
    n_models = 0
    for ax, split in zip(axes, ("train", "test"), strict=True):
        for kinds, color in zip(groups.values(), ("C0", "C1", "C2"), strict=True):
            runs = np.array([c[f"{split}_loss"] for k in kinds for c in results["lines"][k]])
            norms = [r["weight_norm"] for k in kinds for r in results["endpoints"][k]["rows"]]
            n_models = len(runs)
            band(ax, t, runs, color=color,
                 label=f"{_label(results['endpoints'][kinds[0]]['setting'])} "
                       f"(‖θ‖₂ ≈ {np.mean(norms):.0f})")
        for x in (-t_abs, t_abs):
            ax.axvline(x, color="grey", lw=0.8, ls=":",
                       label=f"|t| = {t_abs:g} (difference table)" if x > 0 else None)
        ax.set(yscale="log", xlabel="t  (point θ + t·d)", title=f"{split} loss")
    axes[0].set_ylabel("cross-entropy (log scale)")
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(plt.Rectangle((0, 0), 1, 1, color="grey", alpha=0.3))
    labels.append(f"band: 95% t interval over the {n_models} models of a setting "
                  f"({n_models // 2} seeds × same- and independent-init endpoints;\n"
                  f"for {_label(results['endpoints']['base']['setting'])}: base and control)")
    fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
    fig.suptitle(f"{label}: loss along a filter-normalized random direction d around each "
                 f"endpoint\n(Li et al., 2018; mean over {results['line_directions']} "
                 "directions per model)", fontsize=10)
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    save_figure(fig, "interpolation_filter_normalized_lines")
    return fig


def make_figures(results: dict) -> list[plt.Figure]:
    """Every figure of the notebook: the loss and the accuracy along the interpolation line
    (:func:`loss_curves_figure`, :func:`accuracy_curves_figure`) and the filter-normalized
    curves around each endpoint (:func:`filter_normalized_figure`)."""
    return [loss_curves_figure(results), accuracy_curves_figure(results),
            filter_normalized_figure(results)]
