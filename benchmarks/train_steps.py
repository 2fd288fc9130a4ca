"""Training-step benchmark: one stacked-ensemble step at every training shape the notebooks use.

Run with ``make bench`` (or ``python benchmarks/train_steps.py``). For each row, R models of
the row's shape take optimizer steps on synthetic data of the right shapes (no dataset
needed), through

- ours: :class:`hw1.ensemble.EnsembleSteps`, the inner loop of ``train_ensemble`` today;
- today's step: :class:`baselines.FrozenEnsembleStep`, the frozen copy of the step before
  this benchmark existed (vmap + autograd, for-loop Adam, clone + addcmul rates, a host
  synchronization per step),

alternating blocks of steps in this one process after a warm-up; the table shows medians of
``--repeats`` blocks, in ms per step, and the ratio (today / ours).

The floor of a row is what the step cannot avoid on this machine:

- GEMM: 6·B·P FLOPs per model (forward, and the two backward products; P parameters, batch
  B; for a CNN, 6·B·MACs with the forward multiply-accumulates per sample) at the fp32 GEMM
  rate measured in this run (the best of a few n² products, n = 1024, 2048, 3072);
- optimizer: the bytes Adam must move per step (read parameters, gradients and both moments,
  write back three: 7 · 4 · R · P bytes; SGD with momentum: 5 · 4 · R · P), at the copy
  bandwidth measured in this run (one copy moving as many bytes, read plus written).

"share" is floor / ours. Targets: steps at batch <= 128 of notebooks 10 and 11 at
least 4x faster than today's; notebook 08's shapes at least 60% of the floor. The results go
to ``benchmarks/train_steps.json``. By default the whole benchmark runs in 3 fresh processes
one after another and the table shows each row's medians over them, with the spread of the
ratio and the share (``--processes 1``: one process, its own table). No timing is asserted
anywhere in the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from baselines import FrozenEnsembleStep  # noqa: E402

import hw1.ensemble as ensemble_module  # noqa: E402
from hw1.ensemble import Ensemble, EnsembleSteps, StackedOptimizer  # noqa: E402
from hw1.environment import cpu_model  # noqa: E402
from hw1.models import cnn_with_params, count_params, mlp, mlp_with_params  # noqa: E402


@dataclass
class Row:
    """One training shape.

    Attributes:
        name: key for the command line and the JSON.
        what: the table's label (notebook, shape, models, batch).
        make: builds one model (seeded by the caller).
        models: R.
        batch: B.
        n: training-set size (the batch order is drawn from it).
        input_shape: one input's shape.
        loss, optimizer, schedule: as for ``train_ensemble``.
        lrs: one rate per model.
        total_steps: the cosine schedule's length.
        target: ``("ratio", 4)``: at least 4x today's step; ``("share", 0.6)``: at least 60%
            of the floor; None: no target.
    """

    name: str
    what: str
    make: object
    models: int
    batch: int
    n: int
    input_shape: tuple[int, ...]
    loss: str = "cross_entropy"
    optimizer: str = "adam"
    schedule: str = "constant"
    lrs: list[float] = field(default_factory=list)
    total_steps: int = 1
    target: tuple[str, float] | None = None


def _mlp_row(name, what, sizes, models, batch, n, **kw) -> Row:
    return Row(name, what, lambda: mlp(sizes[0], list(sizes[1:-1]), sizes[-1]), models, batch,
               n, (sizes[0],), lrs=kw.pop("lrs", [1e-3] * models), **kw)


ROWS = [
    _mlp_row("10_b16", "10: 784-64-64-10 x5, batch 16", (784, 64, 64, 10), 5, 16, 10_000,
             target=("ratio", 4)),
    _mlp_row("10_b64", "10: 784-64-64-10 x5, batch 64", (784, 64, 64, 10), 5, 64, 10_000,
             target=("ratio", 4)),
    _mlp_row("10_b1024", "10: 784-64-64-10 x5, batch 1024", (784, 64, 64, 10), 5, 1024,
             10_000),
    _mlp_row("11_w20", "11: 784-20-10 x3, batch 128", (784, 20, 10), 3, 128, 4_000,
             target=("ratio", 4)),
    _mlp_row("11_w400", "11: 784-400-10 x3, batch 128", (784, 400, 10), 3, 128, 4_000,
             target=("ratio", 4)),
    _mlp_row("08_mnist", "08: 784-512-512-10 x3, batch 100, cosine", (784, 512, 512, 10), 3,
             100, 10_000, schedule="cosine", total_steps=4_000, target=("share", 0.6)),
    _mlp_row("08_cifar", "08: 3072-512-512-10 x3, batch 100, cosine", (3072, 512, 512, 10), 3,
             100, 10_000, schedule="cosine", total_steps=4_000, target=("share", 0.6)),
    Row("02_cnn", "02: CNN 6k params depth 2 (MNIST) x3, batch 128, cosine",
        lambda: cnn_with_params(6_000, 2, (1, 28, 28), 10), 3, 128, 10_000, (1, 28, 28),
        schedule="cosine", lrs=[1e-3] * 3, total_steps=12 * 79),
    *[Row(f"01_d{d}", f"01: 1-D MLP 750 params depth {d} x12, full batch 500, MSE, cosine",
          lambda d=d: mlp_with_params(750, d), 12, 500, 500, (1,), loss="mse",
          schedule="cosine", lrs=[lr for lr in (3e-3, 1e-2, 3e-2, 1e-1) for _ in range(3)],
          total_steps=6_000) for d in (1, 5)],
]


def gemm_rate(sizes: tuple[int, ...] = (1024, 2048, 3072), tries: int = 5) -> float:
    """fp32 GEMM FLOP/s: the best over ``tries`` products of two n² matrices, n in ``sizes``."""
    rate = 0.0
    for size in sizes:
        a, b = torch.randn(size, size), torch.randn(size, size)
        torch.mm(a, b)
        for _ in range(tries):
            start = time.perf_counter()
            torch.mm(a, b)
            rate = max(rate, 2 * size ** 3 / (time.perf_counter() - start))
    return rate


def copy_seconds(n_bytes: int, tries: int = 15) -> float:
    """Seconds to move ``n_bytes`` (read plus written) by one ``copy_`` of half that each way:
    the best of ``tries``."""
    n = max(1, n_bytes // 8)  # float32 elements per side
    src, dst = torch.randn(n), torch.empty(n)
    dst.copy_(src)
    best = math.inf
    for _ in range(tries):
        start = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - start)
    return best


def cpu_seconds() -> float:
    """CPU-seconds all processes have run on this machine (Linux ``/proc/stat``; else 0)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU-seconds this process has used (0 where ``/proc/stat`` is missing, to match)."""
    if not Path("/proc/stat").exists():
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def forward_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one input's forward pass through the Conv2d and Linear layers."""
    total = 0

    def hook(m, inp, out):
        nonlocal total
        if isinstance(m, nn.Conv2d):
            total += out[0].numel() * m.in_channels // m.groups * math.prod(m.kernel_size)
        elif isinstance(m, nn.Linear):
            total += m.in_features * m.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, *input_shape))
    for h in handles:
        h.remove()
    return total


def _data(row: Row, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(row.n, *row.input_shape, generator=gen)
    if row.loss == "mse":
        return x, torch.randn(row.n, 1, generator=gen)
    return x, torch.randint(0, 10, (row.n,), generator=gen)


def _models(row: Row) -> list[nn.Module]:
    out = []
    for s in range(row.models):
        torch.manual_seed(s)
        out.append(row.make())
    return out


def _batches(row: Row, count: int, gen: torch.Generator) -> list[torch.Tensor]:
    """``count`` index tensors ``(R, B)``, drawn as epochs of per-model permutations."""
    out = []
    while len(out) < count:
        order = torch.stack([torch.randperm(row.n, generator=gen) for _ in range(row.models)])
        out += [order[:, s:s + row.batch] for s in range(0, row.n - row.batch + 1, row.batch)]
    return out[:count]


def _block(stepper, batches: list[torch.Tensor]) -> float:
    """Seconds per step over one block of steps."""
    start = time.perf_counter()
    for i, idx in enumerate(batches):
        stepper.step(idx, 1, i)
    if hasattr(stepper, "check"):
        stepper.check()
    return (time.perf_counter() - start) / len(batches)


class ProductsOnly:
    """The matrix products of one stacked-MLP step of :class:`hw1.ensemble.EnsembleSteps`
    and nothing else: the same ``baddbmm`` and ``bmm`` calls on the same shapes and layouts
    (forward, the weight gradients, the input gradients of every layer but the first), on
    fixed inputs. Its time is a floor that the step cannot beat without computing its
    products differently (another kernel, layout or precision, which changes the numbers).
    """

    def __init__(self, ens: Ensemble, batch: int, gen: torch.Generator):
        mlp_plan = ens._mlp
        self.views = mlp_plan.views(ens.flat)
        self.grads = mlp_plan.views(torch.zeros_like(ens.flat))
        r = ens.size
        sizes = [mlp_plan.layers[0][2]] + [o for _w, _b, _i, o in mlp_plan.layers]
        self.acts = [torch.randn(r, batch, n, generator=gen) for n in sizes[:-1]]
        self.dzs = [torch.randn(r, batch, n, generator=gen) for n in sizes[1:]]
        self.small = batch < ensemble_module._SMALL_BATCH
        self.scratch = [torch.empty(gw.shape) for gw, _gb in self.grads]

    def step(self, idx: torch.Tensor, epoch: int, step: int) -> None:
        for (W, b), a in zip(self.views, self.acts, strict=True):
            torch.baddbmm(b.unsqueeze(1), a, W.transpose(1, 2))
        for layer in range(len(self.views) - 1, -1, -1):
            gW = self.scratch[layer] if self.small else self.grads[layer][0]
            torch.bmm(self.dzs[layer].transpose(1, 2), self.acts[layer], out=gW)
            if layer:
                torch.bmm(self.dzs[layer], self.views[layer][0])


def measure(row: Row, repeats: int, block_seconds: float, mlp_path: str, adam: str) -> dict:
    """Time ours and today's step side by side; return the row's numbers."""
    gen = torch.Generator().manual_seed(0)
    x, y = _data(row, gen)
    lrs = (ensemble_module._learning_rates(row.lrs, row.models, row.schedule, 1, None,
                                           row.total_steps))
    ens = Ensemble(_models(row))
    if mlp_path == "vmap":
        ens._mlp = None
        ens._refresh()
    ours = EnsembleSteps(ens, x, y, loss=row.loss, optimizer=row.optimizer, lrs=lrs,
                         lr_label=row.lrs)
    if adam != "fused":
        ours.opt = StackedOptimizer(row.optimizer, ens.flat, impl=adam)
    today = FrozenEnsembleStep(_models(row), x, y, lr=row.lrs, optimizer=row.optimizer,
                               loss=row.loss, schedule=row.schedule,
                               total_steps=row.total_steps)
    products = ProductsOnly(ens, row.batch, gen) if ens._mlp is not None else None
    warm = _batches(row, 5, gen)
    _block(ours, warm)
    if products is not None:
        _block(products, warm)
    per_step = _block(today, warm)  # the slower one sets the block length
    steps = int(min(400, max(5, block_seconds / per_step)))
    batches = _batches(row, steps, gen)
    t_ours, t_today, t_products = [], [], []
    for _ in range(repeats):
        t_ours.append(_block(ours, batches))
        if products is not None:
            t_products.append(_block(products, batches))
        t_today.append(_block(today, batches))
    ours_s, today_s = statistics.median(t_ours), statistics.median(t_today)
    products_ms = 1e3 * statistics.median(t_products) if t_products else None
    model = row.make()
    P = count_params(model)
    per_sample = (P if all(isinstance(m, (nn.Linear, nn.Flatten, nn.ReLU, nn.Tanh))
                           for m in model) else forward_macs(model, row.input_shape))
    flops = 6 * row.batch * per_sample * row.models
    streams = 7 if row.optimizer == "adam" else 5
    opt_bytes = streams * ens.flat.element_size() * row.models * P
    return {"name": row.name, "what": row.what, "models": row.models, "batch": row.batch,
            "params_per_model": P, "gemm_flops": flops, "optimizer_bytes": opt_bytes,
            "ours_ms": 1e3 * ours_s, "today_ms": 1e3 * today_s, "ratio": today_s / ours_s,
            "products_ms": products_ms,
            "steps_per_block": steps, "opt_copy_s": copy_seconds(opt_bytes)}


FMT = "{:<64} {:>9} {:>9} {:>13} {:>9} {:>13} {:>12} {:>4} {:>11} {:>10}"
HEAD = ("what", "ours ms", "today ms", "ratio", "floor ms", "share", "target", "met",
        "products ms", "target ms")


def _judge(row: Row, m: dict) -> None:
    """Set ``m``'s target label, whether it is met, and the step time a ratio target asks
    for (today's step divided by the ratio; None for other targets)."""
    m["target"], m["met"], m["target_ms"] = "-", None, None
    if row.target is None:
        return
    if row.target[0] == "ratio":
        m["target"], m["met"] = f">={row.target[1]:g}x today", m["ratio"] >= row.target[1]
        m["target_ms"] = m["today_ms"] / row.target[1]
    else:
        m["target"], m["met"] = f">={row.target[1]:.0%} floor", m["share"] >= row.target[1]


def _print_row(m: dict) -> None:
    def spread(key, form):
        lo, hi = m.get(key + "_min"), m.get(key + "_max")
        return form(m[key]) + ("" if lo is None else f" ({form(lo)}-{form(hi)})")

    print(FMT.format(m["what"][:64], f"{m['ours_ms']:.3f}", f"{m['today_ms']:.3f}",
                     spread("ratio", lambda v: f"{v:.1f}x"), f"{m['floor_ms']:.3f}",
                     spread("share", lambda v: f"{v:.0%}"), m["target"],
                     "-" if m["met"] is None else ("yes" if m["met"] else "NO"),
                     "-" if m.get("products_ms") is None else f"{m['products_ms']:.3f}",
                     "-" if m.get("target_ms") is None else f"{m['target_ms']:.3f}"),
          flush=True)


def run_once(args, rows: list[Row]) -> dict:
    """Measure every row in this process; print and return the results."""
    wall_start, others_start = time.time(), cpu_seconds() - own_cpu_seconds()
    rate = gemm_rate()
    header = (f"CPU: {cpu_model()}; torch {torch.__version__}, {torch.get_num_threads()} "
              f"threads; fp32 GEMM {rate / 1e9:.0f} GFLOP/s (best n^2 product); median of "
              f"{args.repeats} alternating blocks; ours: MLPs by {args.mlp_path}, Adam "
              f"{args.adam}")
    print(header)
    print(FMT.format(*HEAD))
    out = []
    for row in rows:
        m = measure(row, args.repeats, args.block_seconds, args.mlp_path, args.adam)
        gemm_s = m["gemm_flops"] / rate
        floor_ms = 1e3 * (gemm_s + m["opt_copy_s"])
        m.update(gemm_floor_ms=1e3 * gemm_s, opt_floor_ms=1e3 * m["opt_copy_s"],
                 floor_ms=floor_ms, share=floor_ms / m["ours_ms"],
                 today_share=floor_ms / m["today_ms"])
        _judge(row, m)
        out.append(m)
        _print_row(m)
    others = cpu_seconds() - own_cpu_seconds() - others_start
    wall = time.time() - wall_start
    load = (f"other processes used {others:.1f} CPU-seconds during this {wall:.0f} s run on "
            f"{os.cpu_count()} cores")
    print(load)
    return {"machine": header, "gemm_flops_per_s": rate, "load": load, "rows": out}


def run_processes(args, rows: list[Row]) -> dict:
    """Run the benchmark in ``args.processes`` fresh processes, one after another, and take
    each row's medians over them (the spread of ratio and share in parentheses): on a
    shared or virtual machine a whole process can land in a slower spell."""
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.processes):
            out = Path(tmp) / f"run{k}.json"
            cmd = [sys.executable, __file__, *[r.name for r in rows], "--processes", "1",
                   "--repeats", str(args.repeats), "--block-seconds", str(args.block_seconds),
                   "--mlp-path", args.mlp_path, "--adam", args.adam, "--out", str(out)]
            print(f"--- process {k + 1} of {args.processes}", flush=True)
            subprocess.run(cmd, check=True)
            runs.append(json.loads(out.read_text()))
    print(f"=== medians over {args.processes} processes (ratio and share: median (min-max))")
    rates = ", ".join(f"{r['gemm_flops_per_s'] / 1e9:.0f}" for r in runs)
    print("; ".join(runs[0]["machine"].split("; ")[:2]) + f"; fp32 GEMM {rates} GFLOP/s")
    print(FMT.format(*HEAD))
    merged = []
    for i, row in enumerate(rows):
        per = [r["rows"][i] for r in runs]
        m = {k: v for k, v in per[0].items() if not isinstance(v, float)}
        keys = ["ours_ms", "today_ms", "ratio", "floor_ms", "share", "gemm_floor_ms",
                "opt_floor_ms", "today_share"]
        if per[0].get("products_ms") is not None:
            keys.append("products_ms")
        for key in keys:
            values = [p[key] for p in per]
            m[key] = statistics.median(values)
            m[key + "_min"], m[key + "_max"] = min(values), max(values)
        _judge(row, m)
        merged.append(m)
        _print_row(m)
    for r in runs:
        print(r["load"])
    return {"machine": runs[0]["machine"], "processes": args.processes,
            "gemm_flops_per_s": [r["gemm_flops_per_s"] for r in runs],
            "load": [r["load"] for r in runs], "rows": merged, "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"subset of {', '.join(r.name for r in ROWS)}")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--block-seconds", type=float, default=0.1,
                        help="length of one timed block of today's steps")
    parser.add_argument("--processes", type=int, default=3,
                        help="fresh processes to run it in; the table shows their medians")
    parser.add_argument("--mlp-path", choices=("bmm", "vmap"), default="bmm",
                        help="ours for MLPs: batched products (default) or vmap (a candidate)")
    parser.add_argument("--adam", choices=("fused", "flat"), default="fused",
                        help="ours: the StackedOptimizer Adam implementation")
    parser.add_argument("--out", default=str(HERE / "train_steps.json"))
    args = parser.parse_args()
    rows = [r for r in ROWS if not args.names or r.name in args.names]
    result = run_processes(args, rows) if args.processes > 1 else run_once(args, rows)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TQDM_DISABLE", "1")
    sys.exit(main())
