"""The run store: every run's raw results on disk, keyed by a hash of config and seed.

Layout: ``<runs_dir>/<experiment>/<key>.json`` (plus ``<key>.npz`` when a run has arrays).
The JSON holds the run's resolved config, seed, ``hw1`` version, data source and results;
arrays go to a NumPy ``.npz`` read with ``allow_pickle=False`` and checked against a SHA-256
recorded in the JSON. No format here can hold executable code.

Writes are atomic (temporary file in the same folder, then ``os.replace``): a process killed
at any moment leaves the old file or the new one, never a torn one. A stored file that does
not parse or does not match its key is reported with its path, moved aside to
``*.corrupt``, and recomputed.

Environment:
    ``HW1_RERUN=1``: recompute every run even if stored (the new result replaces the old).
    ``HW1_STORE_ONLY=1``: never compute; a missing run raises :class:`MissingRunError`
        (``make figures`` uses this to re-plot from stored results alone).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import hw1
from hw1.paths import runs_dir
from hw1.progress import progress

FORMAT = 1


class RunStoreWarning(UserWarning):
    """A stored run was corrupt and has been set aside."""


class MissingRunError(LookupError):
    """A run is not stored and computing is switched off (``HW1_STORE_ONLY=1``)."""


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


def jsonable(value: Any) -> Any:
    """Convert tuples, NumPy scalars/arrays and tensors to plain JSON types."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays/scalars, torch tensors
        return jsonable(value.tolist())
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def run_key(config: Mapping[str, Any], seed: int | Sequence[int]) -> str:
    """16 hex digits of SHA-256 over the canonical JSON of ``config`` and ``seed``.

    ``seed`` is one int, or a list of ints for runs that train several seeds at once.
    """
    blob = json.dumps({"config": jsonable(config), "seed": jsonable(seed)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Run:
    """One stored run: its results (JSON values) and arrays (name -> ndarray)."""

    key: str
    config: dict[str, Any]
    seed: int | list[int]
    result: dict[str, Any]
    arrays: dict[str, np.ndarray]
    hw1_version: str
    data_source: str


class RunStore:
    """Stored runs of one experiment, in ``<runs_dir>/<experiment>/``.

    Args:
        experiment: folder name, e.g. ``"simulate_function"``.
        root: override of the store root (default :func:`hw1.paths.runs_dir`).
    """

    def __init__(self, experiment: str, root: Path | None = None):
        if not experiment or "/" in experiment:
            raise ValueError(f"experiment must be a plain folder name, got {experiment!r}")
        self.experiment = experiment
        self.folder = (root or runs_dir()) / experiment

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def _set_aside(self, key: str, reason: str) -> None:
        moved = []
        for p in (self.path(key), self.path(key).with_suffix(".npz")):
            if p.exists():
                target = p.with_name(p.name + ".corrupt")
                n = 1
                while target.exists():
                    n += 1
                    target = p.with_name(f"{p.name}.corrupt{n}")
                os.replace(p, target)
                moved.append(str(target))
        warnings.warn(
            f"stored run {self.path(key)} is unreadable ({reason}); set aside as "
            f"{', '.join(moved)} and recomputed.", RunStoreWarning, stacklevel=3)

    def load(self, config: Mapping[str, Any], seed: int | Sequence[int]) -> Run | None:
        """The stored run for ``(config, seed)``, or None if absent or corrupt (set aside)."""
        key = run_key(config, seed)
        path = self.path(key)
        if not path.exists():
            return None
        try:
            record = json.loads(path.read_text())
            if record.get("format") != FORMAT or record.get("key") != key:
                raise ValueError("format or key does not match")
            if record["config"] != jsonable(config) or record["seed"] != jsonable(seed):
                raise ValueError("stored config/seed differ from the requested ones")
            arrays: dict[str, np.ndarray] = {}
            if record.get("arrays_sha256"):
                blob = path.with_suffix(".npz").read_bytes()
                if hashlib.sha256(blob).hexdigest() != record["arrays_sha256"]:
                    raise ValueError("array file does not match its checksum")
                with np.load(io.BytesIO(blob), allow_pickle=False) as z:
                    arrays = {k: z[k] for k in z.files}
            return Run(key, record["config"], seed, record["result"], arrays,
                       record["hw1_version"], record["data_source"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            self._set_aside(key, f"{type(err).__name__}: {err}")
            return None

    def save(self, config: Mapping[str, Any], seed: int | Sequence[int], result: Mapping[str, Any],
             data_source: str, arrays: Mapping[str, np.ndarray] | None = None) -> Run:
        """Write a run atomically (arrays first, then the JSON that vouches for them)."""
        key = run_key(config, seed)
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {"format": FORMAT, "experiment": self.experiment, "key": key,
                  "config": jsonable(config), "seed": jsonable(seed),
                  "hw1_version": hw1.__version__,
                  "data_source": data_source, "result": jsonable(result)}
        if arrays:
            buf = io.BytesIO()
            np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
            blob = buf.getvalue()
            _atomic_write(self.path(key).with_suffix(".npz"), blob)
            record["arrays_sha256"] = hashlib.sha256(blob).hexdigest()
        _atomic_write(self.path(key), json.dumps(record, indent=1, allow_nan=False).encode())
        return Run(key, record["config"], seed, record["result"],
                   dict(arrays or {}), hw1.__version__, data_source)

    def get_or_run(self, config: Mapping[str, Any], seed: int | Sequence[int],
                   compute: Callable[[], tuple[dict, str] | tuple[dict, str, dict]]) -> Run:
        """Load the run for ``(config, seed)`` or compute and store it.

        Args:
            config: everything that determines the run (JSON-able).
            seed: the run's seed.
            compute: returns ``(result, data_source)`` or ``(result, data_source, arrays)``.

        Raises:
            MissingRunError: under ``HW1_STORE_ONLY=1`` when the run is not stored.
        """
        if not _flag("HW1_RERUN"):
            run = self.load(config, seed)
            if run is not None:
                return run
        if _flag("HW1_STORE_ONLY"):
            raise MissingRunError(
                f"no stored run of {self.experiment} for seed {seed} (key "
                f"{run_key(config, seed)}) in {self.folder}; run its notebook first.")
        out = compute()
        return self.save(config, seed, out[0], out[1], out[2] if len(out) > 2 else None)

    def sweep(self, items: Sequence[tuple[Mapping[str, Any], int]],
              compute: Callable[[Mapping[str, Any], int], tuple], desc: str | None = None
              ) -> list[Run]:
        """:meth:`get_or_run` over ``(config, seed)`` pairs, in order, each saved when done.

        A sweep killed midway and started again computes only the missing runs.
        """
        return [self.get_or_run(cfg, seed, lambda c=cfg, s=seed: compute(c, s))
                for cfg, seed in progress(items, desc=desc or self.experiment)]

    def keys(self) -> list[str]:
        """Keys of every stored run (corrupt files excluded)."""
        return sorted(p.stem for p in self.folder.glob("*.json"))
