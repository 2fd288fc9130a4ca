"""What a run was computed on: library versions, thread count, CPU and GPU model.

Every stored run records :func:`describe` so that two results can be compared knowing
whether they could be bit-identical. They can be only on the same machine kind, with the same
thread count and the same library versions. On another CPU the floating-point reductions run
in another order, and numbers move within the seed-to-seed variability.
"""

from __future__ import annotations

import os
import platform
from functools import cache
from pathlib import Path

import numpy as np
import torch


@cache
def cpu_model() -> str:
    """The CPU model name, e.g. ``"AMD EPYC"`` (from ``/proc/cpuinfo`` where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def gpu_model() -> str | None:
    """The name of the current CUDA device, or None without CUDA."""
    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(torch.cuda.current_device())


def set_threads(threads: int) -> None:
    """Fix torch's intra-op thread count (use as a process-pool ``initializer`` too).

    Args:
        threads: a positive number of threads.
    """
    if not isinstance(threads, int) or isinstance(threads, bool) or threads <= 0:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    torch.set_num_threads(threads)


def describe() -> dict[str, object]:
    """The facts that decide bit-identity of a run, as plain JSON values.

    Returns:
        ``{"torch", "numpy", "python", "threads", "cpu", "gpu", "device_count"}``;
        ``gpu`` is None without CUDA.
    """
    return {"torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "threads": torch.get_num_threads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "cpu": cpu_model(), "gpu": gpu_model(),
            "device_count": torch.cuda.device_count() if torch.cuda.is_available() else 0}
