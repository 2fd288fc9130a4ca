"""Code fingerprints: compute code changes them, plotting, docs and notebooks do not; a stored
run whose fingerprint differs is recomputed (or used with a warning under HW1_STORE_ONLY)."""

import json
import shutil
from pathlib import Path

import pytest

from hw1.fingerprint import SRC_ROOT, code_fingerprint, compute_path, experiment_fingerprint
from hw1.store import FORMAT, RunStore, StaleRunWarning

ENTRY = "hw1.experiments.interpolation"


@pytest.fixture
def tree(tmp_path) -> Path:
    """A private copy of the package source, free to edit."""
    shutil.copytree(SRC_ROOT / "hw1", tmp_path / "hw1",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _edit(root: Path, module: str, old: str, new: str) -> None:
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_copy_of_the_tree_has_the_installed_fingerprint(tree):
    assert code_fingerprint(ENTRY, tree) == code_fingerprint(ENTRY)


def test_compute_path_follows_imports_and_leaves_out_presentation():
    path = compute_path("hw1.experiments.error_surface")
    for module in ("hw1.training", "hw1.models", "hw1.data", "hw1.metrics.surface",
                   "hw1.experiments.optimization_trajectories.run"):
        assert module in path
    for module in ("hw1.plotting", "hw1.store", "hw1.progress", "hw1.report", "hw1.paths"):
        assert module not in path
    assert experiment_fingerprint("no_such_experiment") is None


@pytest.mark.parametrize("module, old, new", [
    # plotting code: the figure function, a helper only it calls, the shared plotting module
    (f"{ENTRY}.figures", 'ax.axvline(x, color="grey", lw=0.8, ls=":")',
     'ax.axvline(x, color="grey", lw=0.9, ls=":")'),
    ("hw1.experiments.sensitivity_sharpness.figures", "ax.set_title(title, fontsize=9)",
     "ax.set_title(title, fontsize=10)"),
    ("hw1.plotting", "def save_figure(", "def save_figure_renamed(x): ...\n\n\ndef save_figure("),
    # a summary (post-processing of stored results)
    (f"{ENTRY}.analysis", '{"pair": pair, "‖θ₁ − θ₀‖₂"', '{"pair": pair.upper(), "‖θ₁ − θ₀‖₂"'),
    # docstrings, comments and formatting of compute code
    ("hw1.training", '"""Mean loss and accuracy of', '"""The mean loss and accuracy of'),
    ("hw1.training", "    was_training = model.training\n",
     "    # a new comment\n    was_training = (model.training)\n"),
    # a plotting function of an experiment that another one builds on
    ("hw1.experiments.optimization_trajectories.figures", "def make_figures(",
     "def make_figures_v2(): ...\n\n\ndef make_figures("),
])
def test_presentation_changes_keep_the_fingerprint(tree, module, old, new):
    entries = (ENTRY, "hw1.experiments.sensitivity_sharpness", "hw1.experiments.error_surface")
    before = {e: code_fingerprint(e, tree) for e in entries}
    _edit(tree, module, old, new)
    assert {e: code_fingerprint(e, tree) for e in entries} == before


@pytest.mark.parametrize("module, old, new, entry", [
    ("hw1.training", "total_loss / len(x)", "total_loss / max(len(x), 1)", ENTRY),
    ("hw1.metrics.interpolation", "return", "return  ", None),  # formatting only: no change
    (f"{ENTRY}.run", "torch.lerp(a[None], b[None], weights)",
     "torch.lerp(a[None], b[None], weights.flip(0))", ENTRY),  # curves: compute code
    ("hw1.metrics.sharpness", "def sharpness(", "def _unused(): return 1\n\n\ndef sharpness(",
     "hw1.experiments.sensitivity_sharpness"),
    ("hw1.experiments.optimization_trajectories.run", "if epoch % cfg.snapshot_every == 0:",
     "if epoch % cfg.snapshot_every == 1:", "hw1.experiments.error_surface"),
])
def test_compute_changes_change_the_fingerprint(tree, module, old, new, entry):
    target = entry or ENTRY
    before = code_fingerprint(target, tree)
    _edit(tree, module, old, new)
    after = code_fingerprint(target, tree)
    assert (after != before) == (entry is not None)


def _compute(calls):
    def compute():
        calls.append(1)
        return {"loss": [len(calls)]}, "toy"
    return compute


def test_stale_run_is_set_aside_and_recomputed(tmp_path):
    calls = []
    RunStore("exp", root=tmp_path, fingerprint="old-code").get_or_run({"a": 1}, 0, _compute(calls))
    store = RunStore("exp", root=tmp_path, fingerprint="new-code")
    with pytest.warns(StaleRunWarning, match=r"exp/\w+ \(seed 0\) was computed by code that "
                      r"has changed.*old-code, now new-code.*recomputing"):
        run = store.get_or_run({"a": 1}, 0, _compute(calls))
    assert len(calls) == 2 and run.result == {"loss": [2]} and not run.stale
    kept = store.path(run.key).with_name(f"{run.key}.json.stale")
    assert json.loads(kept.read_text())["result"] == {"loss": [1]}  # nothing silently lost
    again = store.get_or_run({"a": 1}, 0, _compute(calls))  # now current: loaded
    assert len(calls) == 2 and again.code_fingerprint == "new-code"


def test_store_only_uses_a_stale_run_with_a_warning_that_names_it(tmp_path, monkeypatch):
    calls = []
    old = RunStore("exp", root=tmp_path, fingerprint="old-code").get_or_run({"a": 1}, 7,
                                                                           _compute(calls))
    monkeypatch.setenv("HW1_STORE_ONLY", "1")
    store = RunStore("exp", root=tmp_path, fingerprint="new-code")
    with pytest.warns(StaleRunWarning, match=rf"exp/{old.key} \(seed 7\).*code that has changed"
                      r".*HW1_STORE_ONLY=1"):
        run = store.get_or_run({"a": 1}, 7, _compute(calls))
    assert run.stale and run.result == {"loss": [1]} and len(calls) == 1


def test_run_from_before_fingerprints_counts_as_stale(tmp_path):
    store = RunStore("exp", root=tmp_path, fingerprint="now")
    run = store.save({"a": 1}, 0, {"v": 1}, "toy")
    record = json.loads(store.path(run.key).read_text())
    del record["code"]
    record["format"] = 1
    store.path(run.key).write_text(json.dumps(record))
    assert store.load({"a": 1}, 0).stale
    with pytest.warns(StaleRunWarning, match="fingerprint None, now now"):
        assert store.cached({"a": 1}, 0) is None


def test_each_run_records_code_and_machine(tmp_path):
    import torch

    store = RunStore("exp", root=tmp_path, fingerprint="abc")
    run = store.save({"a": 1}, 0, {"v": 1}, "toy")
    record = json.loads(store.path(run.key).read_text())
    assert record["format"] == FORMAT and record["code"] == {"fingerprint": "abc"}
    env = record["environment"]
    assert env["torch"] == torch.__version__ and env["threads"] == torch.get_num_threads()
    assert env["cpu"] and "gpu" in env
    assert store.load({"a": 1}, 0).environment == env


def test_experiment_store_checks_its_own_compute_path(tmp_path):
    store = RunStore("interpolation", root=tmp_path)
    assert store.fingerprint == code_fingerprint(ENTRY)
