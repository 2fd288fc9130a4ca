"""Fingerprints of the code that computes a run, so that stale stored results are recomputed.

A run's *compute path* starts at its experiment's entry module and follows its ``hw1``
imports transitively: config, data, models, training, ensemble, critical, metrics and any
experiment it builds on. The entry module is ``hw1.experiments.<name>`` for a single-module
experiment, and ``hw1.experiments.<name>.run`` for an experiment package
(``hw1/experiments/<name>/__init__.py``): there only ``run.py`` and what it imports count,
so the package's ``__init__.py``, ``analysis.py`` and ``figures.py`` are left out unless
``run.py`` imports them. Relative imports (``from .units import train``, ``from . import
units``) are followed like absolute ones; a helper module of the package that ``run.py``
imports counts whole. Presentation modules are left out (:data:`NOT_COMPUTE`: plotting,
figures, report, progress, and the store itself), and so are the functions of
:data:`TABLE_ONLY` (tests over stored results that only tables call). In an experiment's
entry module, only the code reachable from ``run`` and the module-level statements counts (in
every experiment module on the path): ``make_figures``, ``summary`` and the helpers that only
they call are left out. A package's ``__init__`` counts with everything it imports, so a
change to any metric recomputes every experiment that imports ``hw1.metrics``: coarse, but
never stale. (The same holds for an experiment that imports another experiment package
through its ``__init__``: import from ``<name>.run`` instead to keep its figures out.)

Each module is parsed and its syntax tree hashed with docstrings removed, so comments,
docstrings and formatting change nothing; notebooks are never part of it. So a change to a
metric or the training loop recomputes the runs that use it, and a change to a figure, a
docstring or a notebook's text retrains nothing.

The fingerprint reads source files and never imports them, so it also works on a copy of the
source tree (``src_root``), which is how the tests change code without touching the package.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

PACKAGE = "hw1"
SRC_ROOT = Path(__file__).resolve().parents[1]
NOT_COMPUTE = frozenset({"hw1", "hw1.plotting", "hw1.figures", "hw1.report", "hw1.progress",
                         "hw1.store", "hw1.paths", "hw1.fingerprint", "hw1.environment",
                         "hw1.executors"})
"""Modules that never change a result: they draw, print, store or locate."""

TABLE_ONLY = {"hw1.intervals": frozenset({"holm", "wilson", "mcnemar",
                                         "bootstrap_accuracy_difference"})}
"""Functions of a compute module that only tables call (tests over stored per-image results):
they and the private helpers only they call are left out of the module's digest. Any other
function of the module counts, so a new one counts until it is listed here."""

ENTRY_ROOTS = ("run",)
"""In the entry (experiment) module, what the kept code is reachable from (with the
module-level statements: config classes, constants, registrations)."""


def module_file(name: str, src_root: Path = SRC_ROOT) -> Path | None:
    """The source file of module ``name`` under ``src_root`` (a package's ``__init__.py``)."""
    base = src_root.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


EXPERIMENTS_PACKAGE = f"{PACKAGE}.experiments"


def _is_experiment_package(name: str, src_root: Path) -> bool:
    """Whether ``name`` is ``hw1.experiments.<x>`` and ``<x>`` a package (a folder)."""
    parent, _, leaf = name.rpartition(".")
    path = module_file(name, src_root)
    return (parent == EXPERIMENTS_PACKAGE and bool(leaf) and path is not None
            and path.name == "__init__.py")


def entry_module(name: str, src_root: Path = SRC_ROOT) -> str:
    """Where the compute path of module ``name`` starts: ``hw1.experiments.<x>.run`` for an
    experiment package ``hw1.experiments.<x>``, ``name`` itself otherwise."""
    return f"{name}.run" if _is_experiment_package(name, src_root) else name


def _is_experiment_entry(name: str, src_root: Path) -> bool:
    """An experiment's entry module, ``hw1.experiments.<x>`` (a single module) or
    ``hw1.experiments.<x>.run`` (a package): pruned to what ``run`` reaches."""
    parent, _, leaf = name.rpartition(".")
    if parent == EXPERIMENTS_PACKAGE:
        return not _is_experiment_package(name, src_root)
    return leaf == "run" and _is_experiment_package(parent, src_root)


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _reachable(tree: ast.Module, roots: tuple[str, ...]) -> ast.Module:
    """Keep the module-level statements and the functions reachable from them and ``roots``."""
    functions = {n.name: n for n in tree.body
                 if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    others = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    todo = [r for r in roots if r in functions]
    for stmt in others:
        todo += [n for n in _names_used(stmt) if n in functions]
    keep: set[str] = set()
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        todo += [n for n in _names_used(functions[name]) if n in functions and n not in keep]
    tree.body = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                 or n.name in keep]
    return tree


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str | None:
    if node.level == 0:
        return node.module
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(tree: ast.Module, module: str, is_package: bool, src_root: Path) -> set[str]:
    """The ``hw1`` modules this (pruned) tree imports, submodules named in ``from`` included."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node, module, is_package)
            if not target:
                continue
            submodules = {f"{target}.{a.name}" for a in node.names
                          if module_file(f"{target}.{a.name}", src_root) is not None}
            found |= submodules
            # `from . import units` inside an experiment package names only its submodules:
            # the package's __init__ (which re-exports analysis and figures) stays out
            if not (_is_experiment_package(target, src_root)
                    and len(submodules) == len(node.names)):
                found.add(target)
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


@cache
def _read(path: Path, mtime_ns: int, size: int) -> str:
    return path.read_text()  # cached per file version: the store asks for this often


def _module_tree(name: str, src_root: Path, prune: bool) -> tuple[ast.Module, bool]:
    path = module_file(name, src_root)
    if path is None:
        raise ModuleNotFoundError(f"no source for module {name!r} under {src_root}")
    stat = path.stat()
    tree = ast.parse(_read(path, stat.st_mtime_ns, stat.st_size))
    _strip_docstrings(tree)
    if prune:
        tree = _reachable(tree, ENTRY_ROOTS)
    elif name in TABLE_ONLY:
        roots = tuple(n.name for n in tree.body
                      if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and not n.name.startswith("_") and n.name not in TABLE_ONLY[name])
        tree = _reachable(tree, roots)
    return tree, path.name == "__init__.py"


def _check_table_only(tree: ast.Module, name: str, entry: str) -> None:
    """Refuse a compute path that calls a :data:`TABLE_ONLY` function: its digest leaves them
    out, so a change to them would not mark the stored runs stale."""
    used = _names_used(tree) | {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for owner, functions in TABLE_ONLY.items():
        called = sorted(used & functions) if name != owner else []
        if called:
            raise RuntimeError(
                f"{name} (on the compute path of {entry}) uses {', '.join(called)}, listed as "
                f"table-only for {owner} in hw1.fingerprint.TABLE_ONLY; call it from tables "
                "only, or remove it from that list")


def compute_path(entry: str, src_root: Path = SRC_ROOT) -> dict[str, str]:
    """Every module on ``entry``'s compute path, with the SHA-256 of its pruned syntax tree.

    Args:
        entry: dotted module name, e.g. ``"hw1.experiments.interpolation"``; an experiment
            package ``hw1.experiments.<x>`` starts at ``hw1.experiments.<x>.run``.
        src_root: the folder that holds the ``hw1`` package (default: this installation).

    Returns:
        ``{module name: 64-hex digest}``, sorted by name.
    """
    entry = entry_module(entry, src_root)
    digests: dict[str, str] = {}
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in digests or (name in NOT_COMPUTE and name != entry):
            continue
        prune = name == entry or _is_experiment_entry(name, src_root)
        tree, is_package = _module_tree(name, src_root, prune)
        _check_table_only(tree, name, entry)
        dump = ast.dump(tree, annotate_fields=True, include_attributes=False)
        digests[name] = hashlib.sha256(dump.encode()).hexdigest()
        todo += sorted(_imports(tree, name, is_package, src_root) - digests.keys())
    return dict(sorted(digests.items()))


def code_fingerprint(entry: str, src_root: Path = SRC_ROOT) -> str:
    """16 hex digits that change when, and only when, code on ``entry``'s compute path does.

    Args:
        entry: dotted module name, e.g. ``"hw1.experiments.interpolation"``.
        src_root: the folder that holds the ``hw1`` package.
    """
    blob = "\n".join(f"{k} {v}" for k, v in compute_path(entry, src_root).items())
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def experiment_fingerprint(experiment: str, src_root: Path = SRC_ROOT) -> str | None:
    """:func:`code_fingerprint` of ``hw1.experiments.<experiment>`` (of its ``run`` module if it
    is a package), None if there is no such module (a store used outside the experiments, as
    in tests, then checks no code)."""
    entry = f"{PACKAGE}.experiments.{experiment}"
    return code_fingerprint(entry, src_root) if module_file(entry, src_root) else None
