"""The tables of the gradient-norm experiment: loss and ‖∇L‖, the noise and its share of
E‖g_B‖², paired changes over seeds, the gradient-noise scale, Adam's update norm and the check
of the predicted E‖g_B‖² against sampled batches, per seed with intervals over seeds."""

from __future__ import annotations

import numpy as np

from hw1.data import TARGET_FUNCTIONS, target_function


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
