"""Notebook 02's CNNs, side by side: one Adam step (batch 128) in the default NCHW layout and
in channels-last, and the evaluation per 1,000 images (batches of 128, inference mode) in
each; then the whole run per seed extrapolated for the old recording (10,000 train and 10,000
test images after each of the 13 records) and the new one (2,000 train images at each record,
the test set at 7 of them).

    python benchmarks/cnn_layout_and_eval.py

Each number is the fastest of two interleaved repeats (a shared machine's load only slows).
"""

from __future__ import annotations

import time

import torch

from hw1.experiments.train_actual_task import HEADS
from hw1.models import cnn_with_params

EPOCHS, STEPS_PER_EPOCH = 12, 79  # 10,000 images in batches of 128
OLD_EVAL_K, NEW_EVAL_K = 13 * 20, 13 * 2 + 7 * 10  # thousands of images evaluated per seed


def _measure(shape: tuple[int, ...], n_params: int, head: str, depth: int, channels_last: bool
             ) -> tuple[float, float]:
    """(seconds per training step, seconds per 1,000 evaluated images)."""
    torch.manual_seed(0)
    model = cnn_with_params(n_params, depth, shape, 10, pool_to=HEADS[head])
    x, y = torch.randn(128, *shape), torch.randint(0, 10, (128,))
    x_eval = torch.randn(512, *shape)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
        x_eval = x_eval.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    for i in range(7):
        if i == 2:
            start = time.perf_counter()
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    step = (time.perf_counter() - start) / 5
    model.eval()
    with torch.inference_mode():
        start = time.perf_counter()
        for i in range(0, len(x_eval), 128):
            model(x_eval[i:i + 128])
        per_k = (time.perf_counter() - start) / len(x_eval) * 1000
    return step, per_k


def main() -> None:
    totals = [0.0, 0.0, 0.0, 0.0]
    for name, shape, n_params in (("mnist", (1, 28, 28), 6000),
                                  ("cifar10", (3, 32, 32), 10000)):
        for head, depth in (("flatten", 1), ("flatten", 2), ("flatten", 4), ("gap", 2),
                            ("gap", 4)):
            runs = {False: [], True: []}
            for channels_last in (False, True, False, True):
                runs[channels_last].append(_measure(shape, n_params, head, depth,
                                                    channels_last))
            (s0, e0), (s1, e1) = ((min(r[0] for r in runs[c]), min(r[1] for r in runs[c]))
                                  for c in (False, True))
            print(f"{name} {head} {depth}: step {s0:.4f} -> {s1:.4f} s (x{s0 / s1:.2f}); "
                  f"eval per 1k images {e0:.3f} -> {e1:.3f} s")
            for i, value in enumerate((s0 * STEPS_PER_EPOCH * EPOCHS,
                                       s1 * STEPS_PER_EPOCH * EPOCHS,
                                       e0 * OLD_EVAL_K, e1 * NEW_EVAL_K)):
                totals[i] += value
    old, new = totals[0] + totals[2], totals[1] + totals[3]
    print(f"per seed, all arms: training {totals[0]:.0f} -> {totals[1]:.0f} s, evaluation "
          f"{totals[2]:.0f} -> {totals[3]:.0f} s; total {old:.0f} -> {new:.0f} s "
          f"(x{old / new:.2f})")


if __name__ == "__main__":
    main()
