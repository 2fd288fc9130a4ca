"""Where a notebook's time goes: py-spy samples of its kernel, sorted into kinds of work.

Record each notebook's kernel with py-spy (``pip install py-spy``) while it executes, e.g.
beside ``python benchmarks/notebook_times.py full``::

    py-spy record -p KERNEL_PID -r 20 --nonblocking -f raw -o prof/01_simulate_function.txt

then ``python benchmarks/profile_breakdown.py prof/ benchmarks/profile_full.json``. Each
sample's stack is put in the first matching kind, in this order (so evaluation inside the
training loop counts as evaluation, a Hessian inside a callback as a measurement): start-up
and imports, measurements (``hw1.metrics``, ``hw1.critical``), evaluation, data loading,
training steps, figures, store and tables, other.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

KINDS = (
    ("start-up and imports", r"_find_and_load"),
    ("measurements", r"hw1/metrics/|hw1/critical\.py"),
    ("evaluation", r"evaluate_ensemble|\bevaluate \(hw1"),
    ("data loading", r"hw1/data\.py"),
    ("training steps", r"hw1/training\.py|hw1/ensemble\.py|hw1/least_squares\.py"),
    ("figures", r"matplotlib|make_figures|hw1/plotting"),
    ("store and tables", r"hw1/store\.py|hw1/report|pandas"),
)


def breakdown(lines: list[str]) -> tuple[int, dict[str, float]]:
    """Samples and the share of each kind, from py-spy's raw (collapsed-stack) lines."""
    counts: dict[str, int] = {}
    total = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack:
            continue
        total += int(count)
        kind = next((k for k, pattern in KINDS if re.search(pattern, stack)), "other")
        counts[kind] = counts.get(kind, 0) + int(count)
    return total, {k: round(v / total, 3) for k, v in sorted(counts.items(),
                                                              key=lambda kv: -kv[1])}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    folder, out = Path(argv[0]), Path(argv[1])
    table = {}
    for path in sorted(folder.glob("*.txt")):
        samples, shares = breakdown(path.read_text().splitlines())
        name = path.name.split(".")[0]
        table[name] = {"samples": samples, **shares}
        print(f"{name:<32} {samples:7d} samples  "
              + "  ".join(f"{k} {v:.0%}" for k, v in shares.items()))
    out.write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
