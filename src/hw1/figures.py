"""Re-render every figure from the run store, without training (``make figures``).

Run as ``python -m hw1.figures [experiment ...]``. With ``HW1_STORE_ONLY=1`` (set by
``make figures``) a run that is not stored is reported instead of trained.
"""

from __future__ import annotations

import importlib
import os
import sys

import matplotlib

from hw1.config import profile
from hw1.experiments import EXPERIMENTS
from hw1.paths import figures_dir
from hw1.store import MissingRunError


def render(names: list[str]) -> int:
    """Re-plot each named experiment; return the number that could not be rendered."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.environ.setdefault("HW1_STORE_ONLY", "1")
    missing = 0
    print(f"profile {profile()}: figures go to {figures_dir()}")
    for name in names:
        module = importlib.import_module(f"hw1.experiments.{name}")
        try:
            results = module.run(module.Config.resolve())
        except MissingRunError as err:
            print(f"  {name}: not rendered: {err}")
            missing += 1
            continue
        figs = module.make_figures(results)
        print(f"  {name}: {len(figs)} figure(s)")
        plt.close("all")
    return missing


def main(argv: list[str]) -> int:
    names = argv or list(EXPERIMENTS)
    unknown = sorted(set(names) - set(EXPERIMENTS))
    if unknown:
        print(f"unknown experiment(s) {unknown}; valid: {', '.join(EXPERIMENTS)}", file=sys.stderr)
        return 2
    return 1 if render(names) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
