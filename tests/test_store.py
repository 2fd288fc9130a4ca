import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from hw1.store import MissingRunError, RunStore, RunStoreWarning, run_key

CONFIG = {"lr": 0.1, "widths": (4, 4), "dataset": "digits"}


def _compute(calls):
    def compute():
        calls.append(1)
        return {"loss": [1.0, 0.5, float("nan")]}, "toy data", {"w": np.arange(6.0).reshape(2, 3)}
    return compute


def test_roundtrip_holds_config_seed_version_source_and_arrays(tmp_path):
    store = RunStore("exp", root=tmp_path)
    calls = []
    run = store.get_or_run(CONFIG, 3, _compute(calls))
    again = store.get_or_run(CONFIG, 3, _compute(calls))
    assert len(calls) == 1
    assert again.result == {"loss": [1.0, 0.5, None]} and again.seed == 3
    assert again.config == {"lr": 0.1, "widths": [4, 4], "dataset": "digits"}
    assert again.data_source == "toy data" and again.hw1_version
    np.testing.assert_array_equal(again.arrays["w"], np.arange(6.0).reshape(2, 3))
    record = json.loads(store.path(run.key).read_text())  # plain JSON, no executable code
    assert record["key"] == run.key == run_key(CONFIG, 3)
    assert sorted(p.name for p in (tmp_path / "exp").iterdir()) == [f"{run.key}.json",
                                                                      f"{run.key}.npz"]


def test_key_depends_on_config_and_seed():
    assert run_key(CONFIG, 0) == run_key(dict(reversed(list(CONFIG.items()))), 0)
    assert run_key(CONFIG, 0) != run_key(CONFIG, 1)
    assert run_key(CONFIG, 0) != run_key({**CONFIG, "lr": 0.2}, 0)
    assert run_key(CONFIG, [0, 1]) != run_key(CONFIG, [1, 0])


@pytest.mark.parametrize("damage", ["truncate_json", "garbage_json", "flip_npz", "drop_npz"])
def test_corrupt_stored_run_is_reported_set_aside_and_recomputed(tmp_path, damage):
    store = RunStore("exp", root=tmp_path)
    calls = []
    key = store.get_or_run(CONFIG, 0, _compute(calls)).key
    js, npz = store.path(key), store.path(key).with_suffix(".npz")
    if damage == "truncate_json":
        js.write_bytes(js.read_bytes()[: len(js.read_bytes()) // 2])
    elif damage == "garbage_json":
        js.write_text(json.dumps({"format": 1, "key": "other"}))
    elif damage == "flip_npz":
        blob = bytearray(npz.read_bytes())
        blob[-10] ^= 0xFF
        npz.write_bytes(bytes(blob))
    else:
        npz.unlink()
    with pytest.warns(RunStoreWarning, match=rf"stored run {js} is unreadable"):
        run = store.get_or_run(CONFIG, 0, _compute(calls))
    assert len(calls) == 2
    assert run.result["loss"][:2] == [1.0, 0.5]
    assert js.with_name(js.name + ".corrupt").exists()
    assert store.load(CONFIG, 0) is not None  # the recomputed run is stored whole


def test_rerun_forces_recomputation(tmp_path, monkeypatch):
    store = RunStore("exp", root=tmp_path)
    calls = []
    store.get_or_run(CONFIG, 0, _compute(calls))
    monkeypatch.setenv("HW1_RERUN", "1")
    store.get_or_run(CONFIG, 0, _compute(calls))
    assert len(calls) == 2


def test_store_only_raises_for_missing_run(tmp_path, monkeypatch):
    monkeypatch.setenv("HW1_STORE_ONLY", "1")
    with pytest.raises(MissingRunError, match="no stored run of exp for seed 0"):
        RunStore("exp", root=tmp_path).get_or_run(CONFIG, 0, _compute([]))


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    store = RunStore("exp", root=tmp_path)
    store.save(CONFIG, 0, {"v": 1}, "src")
    before = store.path(run_key(CONFIG, 0)).read_bytes()

    def crash(*args):
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        store.save(CONFIG, 0, {"v": 2}, "src")
    assert store.path(run_key(CONFIG, 0)).read_bytes() == before
    assert [p.name for p in (tmp_path / "exp").iterdir()] == [f"{run_key(CONFIG, 0)}.json"]


SWEEP = textwrap.dedent("""
    import os, signal, sys, json
    from pathlib import Path
    import torch
    from hw1.models import mlp
    from hw1.store import RunStore
    from hw1.training import train

    root, log = Path(sys.argv[1]), Path(sys.argv[2])
    die_at = int(os.environ.get("DIE_AT", "-1"))
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()

    def compute(cfg, seed):
        with log.open("a") as f:
            f.write(f"{seed}\\n")
        torch.manual_seed(seed)
        hist = train(mlp(2, [cfg["width"]], 2), x, y, epochs=2, batch_size=16, lr=cfg["lr"],
                     seed=seed)
        if seed == die_at:  # killed midway through this run, before it is stored
            os.kill(os.getpid(), signal.SIGKILL)
        return hist.to_dict(), "toy"

    runs = RunStore("sweep", root=root).sweep([({"lr": 0.05, "width": 4}, s) for s in range(6)],
                                              compute)
    print(json.dumps([r.result for r in runs]))
""")


def _sweep(tmp_path, root, log, die_at=None):
    script = tmp_path / "sweep.py"
    script.write_text(SWEEP)
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    if die_at is not None:
        env["DIE_AT"] = str(die_at)
    return subprocess.run([sys.executable, str(script), str(root), str(log)], env=env,
                          capture_output=True, text=True, timeout=300)


def test_killed_sweep_resumes_with_only_missing_runs_and_identical_results(tmp_path):
    killed = _sweep(tmp_path, tmp_path / "a", tmp_path / "a.log", die_at=3)
    assert killed.returncode == -9
    assert (tmp_path / "a.log").read_text().split() == ["0", "1", "2", "3"]
    assert len(list((tmp_path / "a" / "sweep").glob("*.json"))) == 3
    (tmp_path / "a.log").write_text("")
    resumed = _sweep(tmp_path, tmp_path / "a", tmp_path / "a.log")
    assert resumed.returncode == 0, resumed.stderr
    assert (tmp_path / "a.log").read_text().split() == ["3", "4", "5"]
    whole = _sweep(tmp_path, tmp_path / "b", tmp_path / "b.log")
    assert (tmp_path / "b.log").read_text().split() == [str(s) for s in range(6)]
    assert json.loads(resumed.stdout) == json.loads(whole.stdout)
    assert not list((tmp_path / "a" / "sweep").glob(".*.tmp"))
