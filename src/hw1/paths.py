"""Filesystem locations, derived from the package location (never the working directory).

The repository root is two levels above this file (``src/hw1/paths.py``). Environment
variables override individual folders:

* ``HW1_DATA_DIR``: datasets and the full-profile run store (default ``<repo>/data``).
* ``HW1_FIGURES_DIR``: where figures are written (default ``<repo>/figures`` under the
  full profile, ``<repo>/.smoke/figures`` under the smoke profile).
* ``HW1_RUNS_DIR``: the run store (default ``<data>/runs`` under full,
  ``<repo>/.smoke/runs`` under smoke).

Smoke runs never write into ``figures/`` or the full run store.
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRATCH_DIR = REPO_ROOT / ".smoke"


def _from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def data_dir() -> Path:
    """Folder holding datasets (``HW1_DATA_DIR`` overrides)."""
    return _from_env("HW1_DATA_DIR", REPO_ROOT / "data")


def figures_dir() -> Path:
    """Folder figures are saved to: ``figures/`` under full, a scratch folder under smoke."""
    from hw1.config import profile

    default = REPO_ROOT / "figures" if profile() == "full" else SCRATCH_DIR / "figures"
    return _from_env("HW1_FIGURES_DIR", default)


def runs_dir() -> Path:
    """Root of the run store: ``data/runs`` under full, a scratch folder under smoke."""
    from hw1.config import profile

    default = data_dir() / "runs" if profile() == "full" else SCRATCH_DIR / "runs"
    return _from_env("HW1_RUNS_DIR", default)


# Module-level constants for the common case (evaluated once, at import).
DATA_DIR = data_dir()
FIGURES_DIR = _from_env("HW1_FIGURES_DIR", REPO_ROOT / "figures")
