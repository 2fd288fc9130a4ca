"""Benchmark suite: our implementation against the straightforward one, side by side.

Run with ``make bench``. Each benchmark runs both implementations in this one process,
alternating, after a warm-up; the table shows medians of ``--repeats`` timings and the ratio
(baseline / ours). The table is printed and written to ``benchmarks/results.json``.
No timing is asserted anywhere in the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from baselines import (  # noqa: E402
    dataloader_epoch,
    hessian_autograd_functional,
    hessian_row_by_row,
    loop_critical_points,
    per_sample_sensitivity_loop,
    sequential_runs,
)

from hw1.critical import find_critical_points  # noqa: E402
from hw1.data import DataNotFoundError, load_dataset, target_function  # noqa: E402
from hw1.ensemble import train_ensemble  # noqa: E402
from hw1.environment import cpu_model  # noqa: E402
from hw1.metrics import hessian, sensitivities  # noqa: E402
from hw1.models import cnn, mlp  # noqa: E402
from hw1.training import batches  # noqa: E402


def cpu_name() -> str:
    """The CPU model (see :func:`hw1.environment.cpu_model`)."""
    return cpu_model()


def time_pair(ours: Callable[[], object], baseline: Callable[[], object], repeats: int
              ) -> tuple[float, float]:
    """Warm up both, then alternate ``repeats`` times; return the two medians (seconds)."""
    ours()
    baseline()
    t_ours, t_base = [], []
    for _ in range(repeats):
        for fn, sink in ((ours, t_ours), (baseline, t_base)):
            start = time.perf_counter()
            fn()
            sink.append(time.perf_counter() - start)
    return statistics.median(t_ours), statistics.median(t_base)


def bench_mnist_epoch():
    data = load_dataset("mnist")
    x, y = data.x_train, data.y_train

    def ours():
        torch.manual_seed(0)
        model = mlp(784, [128, 64], 10)
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        for xb, yb in batches(x, y, 64, torch.Generator().manual_seed(0)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()

    return ours, dataloader_epoch, "one MNIST epoch, MLP 784-128-64-10, batch 64", \
        "in-memory batch iterator", "torchvision MNIST + ToTensor + DataLoader", 5


def bench_minimal_ratio(runs: int = 100, steps: int = 40):
    x, y = target_function("sinc").sample(256)

    def models():
        out = []
        for s in range(runs):
            torch.manual_seed(s)
            out.append(mlp(1, [16, 16], 1))
        return out

    kw = dict(phase1_steps=steps, phase1_lr=1e-2, phase2_steps=steps, phase2_lr=1e-3,
              threshold=1e-12)
    mse = torch.nn.functional.mse_loss

    def ours():
        find_critical_points(models(), mse, x, y, **kw)

    def base():
        loop_critical_points(models(), mse, x, y, **kw)

    return ours, base, f"minimal-ratio search, {runs} runs x ({steps}+{steps}) steps, " \
        "321-param MLP", "runs vectorized (vmap)", "Python loop over runs", 10


def bench_trajectories(epochs: int = 1):
    try:
        data, name = load_dataset("mnist").subsample(10_000, 2_000), "MNIST"
    except DataNotFoundError:  # no MNIST here: say so in the row instead of claiming MNIST
        data, name = load_dataset("digits"), "digits (MNIST not installed)"
    seeds = list(range(8))
    n_in = math.prod(data.input_shape)

    def models():
        out = []
        for s in seeds:
            torch.manual_seed(s)
            out.append(mlp(n_in, [32, 32], 10))
        return out

    args = (data.x_train, data.y_train, data.x_test, data.y_test)
    kw = dict(epochs=epochs, batch_size=100, lr=1e-3)

    def ours():
        train_ensemble(models(), *args, seeds=seeds, **kw)

    def base():
        sequential_runs(models(), *args, seeds=seeds, **kw)

    what = (f"8-run trajectory training, MLP {n_in}-32-32-10, {len(data.x_train):,} {name}, "
            f"{epochs} epoch")
    return ours, base, what, \
        "stacked ensemble", "8 sequential runs", 2


def bench_sensitivity():
    data = load_dataset("mnist")
    X, y = data.x_test[:1000], data.y_test[:1000]
    torch.manual_seed(0)
    model = cnn((1, 28, 28), [8, 16], 10).eval()

    def ours():
        sensitivities(model, X, y)

    def base():
        per_sample_sensitivity_loop(model, X, y)

    return ours, base, "sensitivity (both kinds), 1,000 MNIST test images, small CNN", \
        "batched (K backward passes per batch)", "per-sample autograd loop", 5


def _hessian_problem():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(1000, 10, generator=g)
    y = torch.randn(1000, 1, generator=g)
    torch.manual_seed(0)
    model = mlp(10, [20, 10], 1)  # 441 parameters
    return model, X, y


def bench_hessian_rows():
    model, X, y = _hessian_problem()
    mse = torch.nn.functional.mse_loss
    return (lambda: hessian(model, mse, X, y), lambda: hessian_row_by_row(model, mse, X, y),
            "exact Hessian, 441-param MLP, 1,000 points", "hw1.metrics.hessian",
            "row-by-row autograd", 2)


def bench_hessian_functional():
    model, X, y = _hessian_problem()
    mse = torch.nn.functional.mse_loss
    return (lambda: hessian(model, mse, X, y),
            lambda: hessian_autograd_functional(model, mse, X, y),
            "exact Hessian, 441-param MLP, 1,000 points", "hw1.metrics.hessian",
            "torch.autograd.functional.hessian", 2)


BENCHMARKS = {"mnist_epoch": bench_mnist_epoch, "minimal_ratio": bench_minimal_ratio,
              "trajectories": bench_trajectories, "sensitivity": bench_sensitivity,
              "hessian_rows": bench_hessian_rows, "hessian_functional": bench_hessian_functional}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"subset of {', '.join(BENCHMARKS)}")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(HERE / "results.json"))
    args = parser.parse_args()
    names = args.names or list(BENCHMARKS)
    header = (f"CPU: {cpu_name()}; torch {torch.__version__}, {torch.get_num_threads()} threads;"
              f" median of {args.repeats} after a warm-up")
    print(header)
    rows = []
    fmt = "{:<66} {:>10} {:>10} {:>8} {:>7}  {}"
    print(fmt.format("what", "ours (s)", "base (s)", "ratio", "target", "met"))
    for name in names:
        try:
            ours, base, what, ours_label, base_label, target = BENCHMARKS[name]()
        except DataNotFoundError as err:
            print(f"{name}: skipped ({err})")
            continue
        t_ours, t_base = time_pair(ours, base, args.repeats)
        ratio = t_base / t_ours
        rows.append({"name": name, "what": what, "ours": ours_label, "baseline": base_label,
                     "ours_s": t_ours, "baseline_s": t_base, "ratio": ratio,
                     "target": target, "met": ratio >= target})
        print(fmt.format(what[:66], f"{t_ours:.3f}", f"{t_base:.3f}", f"{ratio:.1f}x",
                         f">={target}x", "yes" if ratio >= target else "NO"), flush=True)
    Path(args.out).write_text(json.dumps({"machine": header, "rows": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TQDM_DISABLE", "1")
    sys.exit(main())
