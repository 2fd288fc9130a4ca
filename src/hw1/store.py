"""The run store: every run's raw results on disk, keyed by a hash of config and seed.

Layout: ``<runs_dir>/<experiment>/<key>.json`` (plus ``<key>.npz`` when a run has arrays).
The JSON holds the run's resolved config, seed, ``hw1`` version, data source and results,
the fingerprint of the code that computed it (:mod:`hw1.fingerprint`) and the machine it ran
on (:func:`hw1.environment.describe`: torch version, thread count, CPU/GPU model);
arrays go to a NumPy ``.npz`` read with ``allow_pickle=False`` and checked against a SHA-256
recorded in the JSON. No format here can hold executable code.

Writes are atomic (temporary file in the same folder, then ``os.replace``): a process killed
at any moment leaves the old file or the new one, never a torn one. A stored file that does
not parse or does not match its key is reported with its path, moved aside to
``*.corrupt``, and recomputed.

A stored run whose code fingerprint differs from the current code's is *stale*: it is moved
aside to ``<key>.json.stale`` (never deleted) and recomputed, with a :class:`StaleRunWarning`.

:meth:`RunStore.sweep` runs the missing ``(config, seed)`` pairs serially or on any
``concurrent.futures.Executor`` (a process pool, a Dask cluster's ``get_executor()``,
submitit's ``AutoExecutor`` for SLURM). The work unit is one run: the worker computes it and
writes it to this file store itself, so a worker that dies loses only the runs it had not
finished, and a re-run computes just those.

Environment:
    ``HW1_RERUN=1``: recompute every run even if stored (the new result replaces the old).
    ``HW1_STORE_ONLY=1``: never compute; a missing run raises :class:`MissingRunError`, and a
        stale run is used with a :class:`StaleRunWarning` that names it and says the code
        changed (``make figures`` uses this to re-plot from stored results alone).
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
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import hw1
from hw1.environment import describe
from hw1.fingerprint import experiment_fingerprint
from hw1.paths import runs_dir
from hw1.progress import progress

FORMAT = 2
READABLE_FORMATS = (1, 2)  # format 1 recorded no code fingerprint: such runs count as stale
AUTO = "auto"


class RunStoreWarning(UserWarning):
    """A stored run was corrupt and has been set aside."""


class StaleRunWarning(UserWarning):
    """A stored run was computed by code that has changed since."""


class MissingRunError(LookupError):
    """A run is not stored and computing is switched off (``HW1_STORE_ONLY=1``)."""


class SweepError(RuntimeError):
    """Some runs of a sweep failed; every run that finished is stored.

    Attributes:
        failed: ``[(config, seed, exception)]`` of the runs that did not finish.
    """

    def __init__(self, message: str, failed: list[tuple[Any, Any, BaseException]]):
        super().__init__(message)
        self.failed = failed


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
    code_fingerprint: str | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    stale: bool = False


class RunStore:
    """Stored runs of one experiment, in ``<runs_dir>/<experiment>/``.

    Args:
        experiment: folder name, e.g. ``"simulate_function"``.
        root: override of the store root (default :func:`hw1.paths.runs_dir`).
        fingerprint: the current code's fingerprint; runs stored with another one are stale.
            Default: that of ``hw1.experiments.<experiment>``'s compute path, or None (no
            check) when there is no such module.
    """

    def __init__(self, experiment: str, root: Path | None = None,
                 fingerprint: str | None = AUTO):
        if not experiment or "/" in experiment:
            raise ValueError(f"experiment must be a plain folder name, got {experiment!r}")
        self.experiment = experiment
        self.folder = (root or runs_dir()) / experiment
        self.fingerprint = (experiment_fingerprint(experiment) if fingerprint == AUTO
                            else fingerprint)

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
        """The stored run for ``(config, seed)``, or None if absent or corrupt (set aside).

        A run computed by other code is returned with ``stale=True``.
        """
        key = run_key(config, seed)
        path = self.path(key)
        if not path.exists():
            return None
        try:
            record = json.loads(path.read_text())
            if record.get("format") not in READABLE_FORMATS or record.get("key") != key:
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
            code = record.get("code") or {}
            fingerprint = code.get("fingerprint")
            return Run(key, record["config"], seed, record["result"], arrays,
                       record["hw1_version"], record["data_source"], fingerprint,
                       record.get("environment") or {},
                       stale=self.fingerprint is not None and fingerprint != self.fingerprint)
        except (OSError, ValueError, KeyError, TypeError) as err:
            self._set_aside(key, f"{type(err).__name__}: {err}")
            return None

    def save(self, config: Mapping[str, Any], seed: int | Sequence[int], result: Mapping[str, Any],
             data_source: str, arrays: Mapping[str, np.ndarray] | None = None) -> Run:
        """Write a run atomically (arrays first, then the JSON that vouches for them)."""
        key = run_key(config, seed)
        self.folder.mkdir(parents=True, exist_ok=True)
        environment = describe()
        record = {"format": FORMAT, "experiment": self.experiment, "key": key,
                  "config": jsonable(config), "seed": jsonable(seed),
                  "hw1_version": hw1.__version__,
                  "code": {"fingerprint": self.fingerprint},
                  "environment": environment,
                  "data_source": data_source, "result": jsonable(result)}
        if arrays:
            buf = io.BytesIO()
            np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
            blob = buf.getvalue()
            _atomic_write(self.path(key).with_suffix(".npz"), blob)
            record["arrays_sha256"] = hashlib.sha256(blob).hexdigest()
        _atomic_write(self.path(key), json.dumps(record, indent=1, allow_nan=False).encode())
        return Run(key, record["config"], seed, record["result"],
                   dict(arrays or {}), hw1.__version__, data_source, self.fingerprint,
                   environment)

    def _set_stale_aside(self, run: Run) -> list[str]:
        moved = []
        for p in (self.path(run.key), self.path(run.key).with_suffix(".npz")):
            if p.exists():
                target, n = p.with_name(p.name + ".stale"), 1
                while target.exists():
                    n += 1
                    target = p.with_name(f"{p.name}.stale{n}")
                os.replace(p, target)
                moved.append(str(target))
        return moved

    def cached(self, config: Mapping[str, Any], seed: int | Sequence[int]) -> Run | None:
        """The stored run to use for ``(config, seed)``, or None when it must be computed.

        None when it is absent, corrupt (set aside), forced by ``HW1_RERUN=1``, or stale
        (moved aside to ``*.stale``, with a :class:`StaleRunWarning`).

        Raises:
            MissingRunError: under ``HW1_STORE_ONLY=1`` when the run is not stored.
        """
        store_only = _flag("HW1_STORE_ONLY")
        run = None if _flag("HW1_RERUN") and not store_only else self.load(config, seed)
        if run is not None and run.stale:
            name = f"{self.experiment}/{run.key} (seed {jsonable(seed)})"
            if store_only:
                warnings.warn(
                    f"stored run {name} was computed by code that has changed since (code "
                    f"fingerprint {run.code_fingerprint}, now {self.fingerprint}); using it "
                    "because HW1_STORE_ONLY=1. Run the notebook without it to recompute.",
                    StaleRunWarning, stacklevel=3)
                return run
            moved = self._set_stale_aside(run)
            warnings.warn(
                f"stored run {name} was computed by code that has changed since (code "
                f"fingerprint {run.code_fingerprint}, now {self.fingerprint}); recomputing. "
                f"The old result is kept as {', '.join(moved)}.", StaleRunWarning, stacklevel=3)
            return None
        if run is None and store_only:
            raise MissingRunError(
                f"no stored run of {self.experiment} for seed {jsonable(seed)} (key "
                f"{run_key(config, seed)}) in {self.folder}; run its notebook first.")
        return run

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
        run = self.cached(config, seed)
        if run is not None:
            return run
        out = compute()
        return self.save(config, seed, out[0], out[1], out[2] if len(out) > 2 else None)

    def sweep(self, items: Sequence[tuple[Mapping[str, Any], int | Sequence[int]]],
              compute: Callable[[Mapping[str, Any], int | Sequence[int]], tuple],
              desc: str | None = None, executor: Executor | None = None) -> list[Run]:
        """:meth:`get_or_run` over ``(config, seed)`` pairs; the runs in the order given.

        Stored runs are loaded here; the missing ones are computed one after another
        (``executor=None``) or submitted to ``executor``, one task per run. Each task computes
        its run and saves it to this store before it returns, so a sweep killed midway, or a
        worker that dies, loses only unfinished runs; started again, it computes just those.

        Args:
            items: ``(config, seed)`` pairs; configs are plain JSON-able data.
            compute: ``compute(config, seed)`` returns ``(result, data_source)`` or
                ``(result, data_source, arrays)``. With an executor it must pickle: a
                module-level function, or a ``functools.partial`` of one over plain data.
            desc: progress-bar label.
            executor: any ``concurrent.futures.Executor``; None runs in this process. Tasks
                run with this process's torch thread count, so results are identical to a
                serial run on the same machine.

        Raises:
            SweepError: when some runs failed (after every other run has finished and been
                stored); ``.failed`` lists them.
            MissingRunError: under ``HW1_STORE_ONLY=1`` when a run is not stored.
        """
        items = list(items)
        runs: list[Run | None] = [self.cached(cfg, seed) for cfg, seed in items]
        todo = [i for i, run in enumerate(runs) if run is None]
        label = desc or self.experiment
        if executor is None:
            for i in progress(todo, desc=label):
                cfg, seed = items[i]
                runs[i] = compute_and_save(self, cfg, seed, compute)
            return runs  # type: ignore[return-value]
        threads = torch.get_num_threads()
        futures = {executor.submit(compute_and_save, self, cfg, seed, compute, threads): i
                   for i, (cfg, seed) in ((i, items[i]) for i in todo)}
        failed = []
        for future in progress(as_completed(futures), total=len(futures), desc=label):
            i = futures[future]
            try:
                runs[i] = future.result()
            except Exception as err:  # every failure is reported together below
                failed.append((items[i][0], items[i][1], err))
        if failed:
            what = "; ".join(f"seed {jsonable(s)} of {jsonable(c)}: {type(e).__name__}: {e}"
                             for c, s, e in failed[:3])
            raise SweepError(
                f"{len(failed)} of {len(todo)} runs of {self.experiment} failed ({what}). The "
                f"{len(todo) - len(failed)} that finished are stored in {self.folder}; run the "
                "sweep again to compute only the missing ones.", failed) from failed[0][2]
        return runs  # type: ignore[return-value]

    def keys(self) -> list[str]:
        """Keys of every stored run (corrupt files excluded)."""
        return sorted(p.stem for p in self.folder.glob("*.json"))


def compute_and_save(store: RunStore, config: Mapping[str, Any], seed: int | Sequence[int],
                     compute: Callable[[Mapping[str, Any], int | Sequence[int]], tuple],
                     threads: int | None = None) -> Run:
    """The work unit of :meth:`RunStore.sweep`: compute one run and store it.

    Module-level so that it pickles to any executor's worker.

    Args:
        store: where to save (pickles as its experiment name, folder and fingerprint).
        config, seed: the run.
        compute: as for :meth:`RunStore.sweep`.
        threads: torch intra-op threads for the computation (the caller's, so that results
            match a serial run); restored afterwards. None keeps the worker's.
    """
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        out = compute(config, seed)
    finally:
        torch.set_num_threads(before)
    return store.save(config, seed, out[0], out[1], out[2] if len(out) > 2 else None)
