"""Notebook tooling: every notebook has a papermill `parameters` cell, a notebook runs with
overrides from another working directory, and the timing script survives a failing notebook."""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from hw1.paths import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_has_one_parameters_cell_that_feeds_config_resolve(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    cell = nb.cells[tagged[0]]
    assert cell.cell_type == "code" and cell.source.startswith("overrides = {}")
    later = "\n".join(c.source for c in nb.cells[tagged[0] + 1:] if c.cell_type == "code")
    assert "Config.resolve(**overrides)" in later


def test_papermill_runs_a_notebook_with_overrides_from_the_repo_root(tmp_path):
    papermill = pytest.importorskip("papermill")
    out = tmp_path / "out.ipynb"
    env = {**os.environ, "HW1_PROFILE": "smoke", "TQDM_DISABLE": "1",
           "HW1_RUNS_DIR": str(tmp_path / "runs"), "HW1_FIGURES_DIR": str(tmp_path / "fig")}
    done = subprocess.run(
        [str(BIN / "papermill"), str(REPO_ROOT / "notebooks" / "05_minimal_ratio.ipynb"),
         str(out), "-y", "overrides: {runs: 2, phase1_steps: 7}", "--cwd", str(REPO_ROOT)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "phase1_steps" in injected[0].source
    shown = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                    for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "runs=2" in shown and "phase1_steps=7" in shown
    assert papermill.__version__


def _tiny_notebook(path: Path, code: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


def test_timing_script_records_a_failing_notebook_and_times_the_others(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    _tiny_notebook(folder / "01_fails.ipynb", "raise ValueError('broken on purpose')")
    _tiny_notebook(folder / "02_works.ipynb", "print(6 * 7)")
    out = tmp_path / "times.json"
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "notebook_times.py"), "smoke",
         "--notebooks", str(folder), "--out", str(out), "--keep", str(tmp_path / "kept")],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr  # a failure is reported by the exit code ...
    table = json.loads(out.read_text())  # ... and the table is still written, whole
    rows = {r["notebook"]: r for r in table["rows"]}
    assert not rows["01_fails.ipynb"]["ok"]
    assert "ValueError: broken on purpose" in rows["01_fails.ipynb"]["error"]
    assert rows["02_works.ipynb"]["ok"] and rows["02_works.ipynb"]["seconds"] > 0
    assert rows["02_works.ipynb"]["peak_rss_mib"] > 0
    assert table["failed"] == ["01_fails.ipynb"] and "CPU:" in table["machine"]
    assert (tmp_path / "kept" / "02_works.ipynb").exists()
    assert "FAILED: 01_fails.ipynb" in done.stdout
