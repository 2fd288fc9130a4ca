"""HW1-2 (observe the gradient norm during training): the mini-batch gradient the optimizer
steps along, beside the full-batch gradient ∇L and the sampling noise that separates them,
E‖g_B‖² = ‖∇L‖² + (N − B)/(N − 1)·tr Σ/B (:func:`hw1.metrics.gradient_noise`, exact over all N
training samples by the per-sample outer-product identity of linear layers), the
gradient-noise scale tr Σ/‖∇L‖² (McCandlish et al., 2018) and the norm of Adam's actual
update, for several seeds on a 1-D function and on MNIST."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import FuncFormatter
from torch import nn

from hw1.config import ExperimentConfig
from hw1.data import DATASETS, TARGET_FUNCTIONS, load_subset, target_function
from hw1.metrics import gradient_noise
from hw1.models import count_params, mlp, mlp_with_params
from hw1.plotting import save_figure
from hw1.store import RunStore
from hw1.training import batches, evaluate, loss_function, train

MEASURED = ("measure_step", "full_loss", "full_grad_norm_sq", "trace_cov", "noise_sq",
            "predicted_batch_norm_sq", "sampled_batch_norm_sq")


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Settings of the gradient-norm experiment.

    Attributes:
        function, function_params, function_points, function_epochs: the 1-D task (an MLP of
            ``function_params`` parameters, 2 hidden layers, MSE).
        dataset, dataset_widths, n_train, dataset_epochs: the image task (an MLP, cross-entropy).
        batch_size, lr: Adam settings.
        seeds: one run per seed and task.
        measure_every: optimizer steps between full-batch measurements.
        check_batches: random mini-batches drawn at each measurement, whose mean ‖g_B‖² checks
            the predicted E‖g_B‖².
    """

    name: ClassVar[str] = "gradient_norm"
    positive: ClassVar[tuple[str, ...]] = ("function_params", "function_points", "function_epochs",
                                           "dataset_widths", "n_train", "dataset_epochs",
                                           "batch_size", "lr", "measure_every", "check_batches")
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"function": tuple(TARGET_FUNCTIONS),
                                                     "dataset": DATASETS}
    function: str = "sinc"
    function_params: int = 750
    function_points: int = 2000
    function_epochs: int = 150
    dataset: str = "mnist"
    dataset_widths: tuple[int, ...] = (64, 32)
    n_train: int = 20_000
    dataset_epochs: int = 8
    batch_size: int = 128
    lr: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2)
    measure_every: int = 50
    check_batches: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.seeds or any(s < 0 for s in self.seeds):
            raise ValueError(f"seeds must be non-negative ints, at least one; got {self.seeds}")


Config.register(full=Config(), smoke=Config(function_points=256, function_epochs=3,
                                            dataset="digits", n_train=1000, dataset_epochs=2,
                                            seeds=(0, 1), measure_every=5, check_batches=4))


def _endless_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int,
                     gen: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of fresh permutations, one after another, without end."""
    while True:
        yield from batches(x, y, batch_size, gen)


def short_batch_steps(n_train: int, batch_size: int, n_steps: int) -> np.ndarray:
    """Boolean ``(n_steps,)``: which training steps used an epoch's short last batch."""
    per_epoch = -(-n_train // batch_size)
    short = np.zeros(n_steps, dtype=bool)
    if n_train % batch_size:
        short[per_epoch - 1::per_epoch] = True
    return short


def _measure(cfg: Config, x: torch.Tensor, y: torch.Tensor, loss: str, seed: int):
    """An ``on_step`` callback filling the lists of :data:`MEASURED` every few steps."""
    loss_fn = loss_function(loss)
    out = {k: [] for k in MEASURED}
    out["step_update_norm"] = []  # ‖θ_{t+1} − θ_t‖ of every optimizer step t but the last
    previous: list[torch.Tensor] = []

    def batch_grad_sq(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> float:
        params = [p for p in model.parameters() if p.requires_grad]
        grads = torch.autograd.grad(loss_fn(model(xb), yb), params)
        return float(sum(g.double().pow(2).sum() for g in grads))

    def on_step(step: int, model: nn.Module) -> None:
        theta = torch.cat([p.detach().flatten() for p in model.parameters()]).double()
        if previous:
            out["step_update_norm"].append(float((theta - previous[0]).norm()))
        previous[:] = [theta]
        if step % cfg.measure_every:
            return
        model.eval()
        noise = gradient_noise(model, loss_fn, x, y, cfg.batch_size, chunk_size=4096,
                               method="linear")
        gen = torch.Generator().manual_seed(seed * 1_000_003 + step)  # its own draws
        full_size = ((xb, yb) for xb, yb in _endless_batches(x, y, cfg.batch_size, gen)
                     if len(xb) == cfg.batch_size)  # the prediction is for batches of B
        sampled = [batch_grad_sq(model, xb, yb)
                   for _, (xb, yb) in zip(range(cfg.check_batches), full_size, strict=False)]
        for key, value in (("measure_step", step), ("full_loss", evaluate(model, loss_fn, x, y)[0]),
                           ("full_grad_norm_sq", noise["grad_norm_sq"]),
                           ("trace_cov", noise["trace_cov"]), ("noise_sq", noise["noise_sq"]),
                           ("predicted_batch_norm_sq", noise["predicted_batch_norm_sq"]),
                           ("sampled_batch_norm_sq", float(np.mean(sampled)))):
            out[key].append(value)

    return on_step, out


def _train_function(cfg: Config, seed: int) -> tuple[dict, str]:
    target = target_function(cfg.function)
    x, y = target.sample(cfg.function_points)
    torch.manual_seed(seed)
    model = mlp_with_params(cfg.function_params, 2)
    on_step, measured = _measure(cfg, x, y, "mse", seed)
    hist = train(model, x, y, epochs=cfg.function_epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                 seed=seed, loss="mse", record_steps=True, on_step=on_step,
                 desc=f"{target.formula}, seed {seed}")
    return ({"history": hist.to_dict(), "measured": measured, "n_params": count_params(model),
             "loss": "MSE", "n_train": len(x)}, f"{cfg.function_points} points of {target.formula}")


def _train_dataset(cfg: Config, seed: int) -> tuple[dict, str]:
    data = load_subset(cfg.dataset, cfg.n_train, 1)
    torch.manual_seed(seed)
    model = mlp(int(np.prod(data.input_shape)), list(cfg.dataset_widths), data.num_classes)
    x, y = data.x_train, data.y_train
    on_step, measured = _measure(cfg, x, y, "cross_entropy", seed)
    hist = train(model, x, y, epochs=cfg.dataset_epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                 seed=seed, record_steps=True, on_step=on_step, desc=f"{cfg.dataset}, seed {seed}")
    return ({"history": hist.to_dict(), "measured": measured, "n_params": count_params(model),
             "loss": "cross-entropy", "n_train": len(x)}, data.source)


def _unit(cfg: Config, spec: dict, seed: int) -> tuple[dict, str]:
    return _train_function(cfg, seed) if "function" in spec else _train_dataset(cfg, seed)


def run(cfg: Config, executor: Executor | None = None) -> dict[str, dict]:
    """Train (or load) both tasks for every seed.

    Args:
        cfg: the experiment's settings.
        executor: runs the (task, seed) runs; None: here, one after another.

    Returns:
        ``results[task]`` = ``{"runs": [per-seed result], "seeds", "source", "n_params",
        "loss", "n_train"}``; each result has the ``history`` with per-step lists and the
        ``measured`` full-batch lists (:data:`MEASURED`).
    """
    c = cfg.to_dict()
    shared = ("batch_size", "lr", "measure_every", "check_batches")
    fn_spec = {k: v for k, v in c.items() if k.startswith("function") or k in shared}
    ds_spec = {k: v for k, v in c.items() if not k.startswith("function") and k != "seeds"}
    items = [(spec, seed) for spec in (fn_spec, ds_spec) for seed in cfg.seeds]
    runs = RunStore(cfg.name).sweep(items, partial(_unit, cfg), executor=executor)
    out = {}
    for t, task in enumerate((cfg.function, cfg.dataset)):
        mine = runs[t * len(cfg.seeds):(t + 1) * len(cfg.seeds)]
        first = mine[0].result
        out[task] = {"runs": [r.result for r in mine], "seeds": list(cfg.seeds),
                     "source": mine[0].data_source, "n_params": first["n_params"],
                     "loss": first["loss"], "n_train": first["n_train"],
                     "batch_size": cfg.batch_size, "check_batches": cfg.check_batches}
    return out


def _per_seed(r: dict, key: str) -> np.ndarray:
    return np.asarray([run["measured"][key] for run in r["runs"]], dtype=float)  # (S, M)


def _task_name(task: str) -> str:
    return target_function(task).formula if task in TARGET_FUNCTIONS else task.upper()


def _seed_table(results: dict, task: str, quantities):
    """One display row per quantity of ``task``: its value for each seed and the mean ± 95%
    t interval over seeds.

    Args:
        results: what :func:`run` returns.
        task: which task (a key of ``results``).
        quantities: ``[(name, (S,) values, interval wanted)]``.

    Returns:
        A display DataFrame whose first column, named after the task, names the quantity,
        then ``seed <s>`` columns and ``mean ± 95% t over seeds``.
    """
    from hw1.report import ci, table

    seeds = results[task]["seeds"]
    return table([{_task_name(task): name,
                   **{f"seed {s}": v for s, v in zip(seeds, values, strict=True)},
                   "mean ± 95% t over seeds": ci(values) if interval else ""}
                  for name, values, interval in quantities])


def _last(r: dict) -> int:
    return int(r["runs"][0]["measured"]["measure_step"][-1])


def loss_and_gradient_table(results: dict, task: str):
    """Per seed: the full-batch loss at the first and last measurement, ‖∇L‖ at the first,
    second and last, and the largest ‖∇L‖ with the iteration where it was measured (its
    mean over seeds is a mean of per-seed maxima, biased upward).

    Args:
        results: what :func:`run` returns.
        task: which task (a key of ``results``: the function's or the dataset's name).

    Returns:
        A display DataFrame, one row per quantity, one column per seed.
    """
    r = results[task]
    loss, grad = _per_seed(r, "full_loss"), np.sqrt(_per_seed(r, "full_grad_norm_sq"))
    steps = np.asarray(r["runs"][0]["measured"]["measure_step"])
    return _seed_table(results, task, [
        ("loss at iteration 0", loss[:, 0], True),
        (f"loss at iteration {_last(r):,}", loss[:, -1], True),
        ("‖∇L‖ at iteration 0", grad[:, 0], True),
        (f"‖∇L‖ at iteration {steps[1]:,}", grad[:, 1], True),
        ("largest ‖∇L‖ of each seed", grad.max(1), True),
        ("iteration of the largest ‖∇L‖", [f"{int(steps[i]):,}" for i in grad.argmax(1)],
         False),
        (f"‖∇L‖ at iteration {_last(r):,}", grad[:, -1], True)])


def noise_table(results: dict, task: str):
    """Per seed: the noise √(c·tr Σ/B) at the first measurement, its largest value (and where)
    and its value at the last one, its share of the predicted E‖g_B‖² at the first and last
    measurement, and the predicted √E‖g_B‖² at the last.

    Args:
        results: what :func:`run` returns.
        task: which task (a key of ``results``).

    Returns:
        A display DataFrame, one row per quantity, one column per seed.
    """
    r = results[task]
    noise, pred = _per_seed(r, "noise_sq"), _per_seed(r, "predicted_batch_norm_sq")
    steps = np.asarray(r["runs"][0]["measured"]["measure_step"])
    last = _last(r)
    return _seed_table(results, task, [
        ("noise at iteration 0", np.sqrt(noise[:, 0]), True),
        ("largest noise of each seed", np.sqrt(noise.max(1)), True),
        ("iteration of the largest noise", [f"{int(steps[i]):,}" for i in noise.argmax(1)],
         False),
        (f"noise at iteration {last:,}", np.sqrt(noise[:, -1]), True),
        ("noise share of E‖g_B‖² at iteration 0", noise[:, 0] / pred[:, 0], True),
        (f"noise share of E‖g_B‖² at iteration {last:,}", noise[:, -1] / pred[:, -1], True),
        (f"predicted √E‖g_B‖² at iteration {last:,}", np.sqrt(pred[:, -1]), True)])


def change_table(results: dict):
    """Paired per-seed changes of ‖∇L‖ between the first two measurements, and of the
    full-batch loss over the run, as factors: the geometric mean over seeds of the later over
    the earlier value (MNIST: iteration 50 over 0, where ‖∇L‖ rises; 1-D task: 0 over 50,
    where it falls), of ‖∇L‖ from the second to the last measurement, with the 95% t interval
    of the per-seed log10 ratios, transformed back, and the two-sided one-sample t test of
    those log ratios against 0 (p). The image task's first ratio is the declared primary
    comparison; every other row is exploratory.

    Args:
        results: what :func:`run` returns.

    Returns:
        A display DataFrame, one row per task and change.
    """
    from scipy import stats

    from hw1.intervals import t_interval
    from hw1.report import num, table

    rows = []
    for task, r in results.items():
        loss, grad = _per_seed(r, "full_loss"), np.sqrt(_per_seed(r, "full_grad_norm_sq"))
        steps = np.asarray(r["runs"][0]["measured"]["measure_step"])
        rises = np.mean(grad[:, 1] > grad[:, 0]) > 0.5
        pairs = [(f"‖∇L‖ at iteration {steps[1]:,} ÷ at 0", grad[:, 1], grad[:, 0]) if rises
                 else (f"‖∇L‖ at iteration 0 ÷ at {steps[1]:,}", grad[:, 0], grad[:, 1]),
                 (f"‖∇L‖ at iteration {_last(r):,} ÷ at {steps[1]:,}", grad[:, -1], grad[:, 1]),
                 (f"loss at iteration {_last(r):,} ÷ at 0", loss[:, -1], loss[:, 0])]
        for k, (name, top, bottom) in enumerate(pairs):
            logs = np.log10(top / bottom)
            mean, half = t_interval(logs)
            p = float(stats.ttest_1samp(logs, 0.0).pvalue)
            rows.append({"task": _task_name(task), "ratio": name,
                         **{f"seed {s}": v for s, v in zip(r["seeds"], top / bottom,
                                                           strict=True)},
                         "geometric mean [95% CI]": f"{num(10 ** mean)} "
                         f"[{num(10 ** (mean - half))}, {num(10 ** (mean + half))}]",
                         "p": p,
                         "role": "primary" if (k == 0 and task not in TARGET_FUNCTIONS)
                         else "exploratory"})
    return table(rows)


def noise_scale_table(results: dict):
    """Per task and seed: the gradient-noise scale tr Σ/‖∇L‖² (McCandlish et al., 2018, their
    B_simple: the batch size at which the noise and the full-batch parts of E‖g_B‖² are about
    equal, up to the finite-population factor) at the first two measurements, its smallest and
    largest value, and its value at the last measurement.

    Args:
        results: what :func:`run` returns.

    Returns:
        A display DataFrame, one row per task and quantity, one column per seed, and the mean
        ± 95% t interval over seeds of the log10 values, transformed back (a geometric mean).
    """
    from hw1.intervals import t_interval
    from hw1.report import num, table

    rows = []
    for task, r in results.items():
        scale = _per_seed(r, "trace_cov") / _per_seed(r, "full_grad_norm_sq")  # (S, M)
        steps = np.asarray(r["runs"][0]["measured"]["measure_step"])
        for name, values in ((f"at iteration {steps[0]}", scale[:, 0]),
                             (f"at iteration {steps[1]:,}", scale[:, 1]),
                             ("smallest over the run", scale.min(1)),
                             ("largest over the run", scale.max(1)),
                             (f"at iteration {_last(r):,}", scale[:, -1])):
            mean, half = t_interval(np.log10(values))
            rows.append({"task": _task_name(task), "tr Σ/‖∇L‖²": name,
                         **{f"seed {s}": v for s, v in zip(r["seeds"], values, strict=True)},
                         "geometric mean [95% CI]": f"{num(10 ** mean)} "
                         f"[{num(10 ** (mean - half))}, {num(10 ** (mean + half))}]"})
    return table(rows)


def _update_windows(r: dict, window: int) -> dict[str, np.ndarray]:
    """Per seed, means over the first and the last ``window`` optimizer steps of Adam's update
    norm ‖Δθ‖ and of the mini-batch gradient norm ‖g_B‖ of the same steps (``(S,)`` each)."""
    out = {}
    for key, source in (("update", lambda run: run["measured"]["step_update_norm"]),
                        ("grad", lambda run: run["history"]["step_grad_norm"][:-1])):
        series = [np.asarray(source(run), dtype=float) for run in r["runs"]]
        out[f"{key}_first"] = np.asarray([v[:window].mean() for v in series])
        out[f"{key}_last"] = np.asarray([v[-window:].mean() for v in series])
    return out


def update_table(results: dict, task: str, lr: float, window: int = 50):
    """Per task and seed: the norm of Adam's actual update ‖Δθ‖ = ‖θ_{t+1} − θ_t‖ beside the
    mini-batch gradient norm ‖g_B‖ it was computed from, each averaged over the first and the
    last ``window`` steps, and ‖Δθ‖ ÷ (lr·‖g_B‖) (1 would be plain SGD at the same rate);
    lr·√P is the update of a step of ±lr in every coordinate, Adam's largest typical step.

    Args:
        results: what :func:`run` returns.
        task: which task (a key of ``results``).
        lr: Adam's learning rate.
        window: steps averaged at each end.

    Returns:
        A display DataFrame, one row per quantity, one column per seed, and the mean
        ± 95% t interval over seeds.
    """
    from hw1.report import ci, num, table

    rows = []
    r = results[task]
    w = _update_windows(r, window)
    quantities = [(f"‖g_B‖, first {window} steps", w["grad_first"]),
                  (f"‖g_B‖, last {window} steps", w["grad_last"]),
                  (f"‖Δθ‖, first {window} steps", w["update_first"]),
                  (f"‖Δθ‖, last {window} steps", w["update_last"]),
                  ("‖Δθ‖ ÷ (lr·‖g_B‖), first", w["update_first"] / (lr * w["grad_first"])),
                  ("‖Δθ‖ ÷ (lr·‖g_B‖), last", w["update_last"] / (lr * w["grad_last"]))]
    for name, values in quantities:
        rows.append({_task_name(task): name,
                     **{f"seed {s}": v for s, v in zip(r["seeds"], values, strict=True)},
                     "mean ± 95% t over seeds": ci(values)})
    rows.append({_task_name(task): "lr·√P (reference)",
                 **{f"seed {s}": num(lr * np.sqrt(r["n_params"])) for s in r["seeds"]},
                 "mean ± 95% t over seeds": ""})
    return table(rows)


def check_table(results: dict):
    """Per task: sampled mean ‖g_B‖² over predicted E‖g_B‖², its median over each run's
    measurements (per seed, and mean ± 95% t over seeds), and the range of the single
    measurements over all seeds.

    Args:
        results: what :func:`run` returns.

    Returns:
        A display DataFrame, one row per task.
    """
    from hw1.report import ci, num, table

    rows = []
    for task, r in results.items():
        ratio = _per_seed(r, "sampled_batch_norm_sq") / _per_seed(r, "predicted_batch_norm_sq")
        median = np.median(ratio, axis=1)
        rows.append({"task": _task_name(task), "measurements per seed": ratio.shape[1],
                     **{f"seed {s}": m for s, m in zip(r["seeds"], median, strict=True)},
                     "mean ± 95% t over seeds": ci(median),
                     "single measurements, range": f"{num(ratio.min())}–{num(ratio.max())}"})
    return table(rows)


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


def _band_or_seeds(ax: plt.Axes, steps: np.ndarray, values: np.ndarray, color: str,
                   label: str) -> bool:
    """The mean over seeds with its 95% t band, or, where that band would reach 0 (off a log
    axis), the mean with each seed's curve drawn thinly instead.

    Args:
        ax: the axes (log y).
        steps: ``(M,)`` iterations of the measurements.
        values: ``(S, M)`` per-seed values.
        color: line colour.
        label: legend label of the mean line.

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
    for k, v in enumerate(values):
        ax.plot(steps, v, color=color, lw=0.6, alpha=0.6,
                label=f"{label}, single seeds" if k == 0 else None)
    return False


def loss_and_gradient_figure(results: dict) -> plt.Figure:
    """Per task (column): the full-batch loss (top) and full-batch ‖∇L‖ (bottom) over the
    iterations, mean over seeds with the 95% t interval over seeds as a band; seed 0's
    mini-batch loss of every iteration in grey.

    Args:
        results: what :func:`run` returns.

    Returns:
        The figure, saved as ``gradient_norm_and_loss``.
    """
    tasks = list(results)
    fig, axes = plt.subplots(2, len(tasks), figsize=(4.8 * len(tasks), 7.0), sharex="col",
                             squeeze=False, layout="constrained")
    for col, task in enumerate(tasks):
        r = results[task]
        steps = np.asarray(r["runs"][0]["measured"]["measure_step"])
        it, full_batch = _full_batch_steps(r)
        top, bottom = axes[0, col], axes[1, col]
        top.plot(it[full_batch], np.asarray(r["runs"][0]["history"]["step_loss"])[full_batch],
                 lw=0.4, color="grey", alpha=0.5, label="mini-batch loss (seed 0)")
        top.plot(steps, _per_seed(r, "full_loss")[0], "--", color="black", lw=0.9,
                 label="full-batch loss (seed 0)")
        _band_or_seeds(top, steps, _per_seed(r, "full_loss"), "C0", "full-batch loss")
        top.set(yscale="log", ylabel=f"{r['loss']} loss",
                title=f"{_task_name(task)}: {r['n_params']:,} parameters")
        _band_or_seeds(bottom, steps, np.sqrt(_per_seed(r, "full_grad_norm_sq")), "C3",
                       "full-batch ‖∇L‖")
        bottom.set(yscale="log", ylabel="‖∇L‖", xlabel="iteration")
        for ax in (top, bottom):
            _plain_log_ticks(ax)
            handles, labels = ax.get_legend_handles_labels()
            # the band note on its own line keeps the legend narrow, clear of the early drop
            labels = [lab.replace("; band:", ";\nband:") for lab in labels]
            ax.legend(handles, labels, loc="upper right", fontsize=9)
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
               title=f"{_task_name(task)}, batches of B = {r['batch_size']}")
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
                title=f"{_task_name(task)}: noise scale (McCandlish et al., 2018)")
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
