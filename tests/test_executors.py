"""Sweeps on executors: serial, a process pool and a local Dask cluster give identical runs;
a worker killed mid-sweep costs only unfinished runs, and a re-run computes just those."""

import json
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

import pytest
import torch

from hw1.experiments import params_vs_generalization as experiment
from hw1.models import mlp
from hw1.store import RunStore, SweepError, jsonable
from hw1.training import train

SMOKE = experiment.Config.resolve("smoke")


def _sweep_results(tmp_path, name, executor=None):
    os.environ["HW1_RUNS_DIR"] = str(tmp_path / name)
    try:
        return jsonable(experiment.run(SMOKE, executor=executor))
    finally:
        del os.environ["HW1_RUNS_DIR"]


def _stored(tmp_path, name):
    folder = tmp_path / name / experiment.Config.name
    return {p.name: json.loads(p.read_text())["result"] for p in folder.glob("*.json")}


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serial")
    return tmp, _sweep_results(tmp, "runs")


def test_process_pool_equals_serial(serial, tmp_path):
    serial_dir, expected = serial
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        got = _sweep_results(tmp_path, "runs", pool)
    assert got == expected
    assert _stored(tmp_path, "runs") == _stored(serial_dir, "runs")  # same keys, same bits


def test_local_dask_cluster_equals_serial(serial, tmp_path):
    distributed = pytest.importorskip("distributed")
    serial_dir, expected = serial
    with (distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None) as cluster,
          distributed.Client(cluster) as client):
        got = _sweep_results(tmp_path, "runs", client.get_executor())
    assert got == expected
    assert _stored(tmp_path, "runs") == _stored(serial_dir, "runs")


def _toy_run(config: dict, seed: int) -> tuple[dict, str]:
    """A small training run; the one whose seed is ``config["die_at"]`` kills its process."""
    if seed == config["die_at"]:
        os.kill(os.getpid(), signal.SIGKILL)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    torch.manual_seed(seed)
    hist = train(mlp(2, [8], 2), x, y, epochs=3, batch_size=16, lr=0.05, seed=seed)
    return {"history": hist.to_dict()}, "toy"


def _logged(config: dict, seed: int) -> tuple[dict, str]:
    with open(config["log"], "a") as f:
        f.write(f"{seed}\n")
    return _toy_run({"die_at": -1}, seed)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_worker_loses_only_unfinished_runs(tmp_path):
    store = RunStore("toy", root=tmp_path / "pool")
    items = [({"die_at": 3}, s) for s in range(6)]
    spawn = multiprocessing.get_context("spawn")
    with (pytest.raises(SweepError, match=r"runs of toy failed.*that finished are stored") as err,
          ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool):
        store.sweep(items, _toy_run, executor=pool)
    failed = {seed for _, seed, _ in err.value.failed}
    assert 3 in failed
    stored = {s for cfg, s in items if store.load(cfg, s) is not None}
    assert 3 not in stored and stored | failed == set(range(6))
    # started again (the dying run now survives), only the missing runs are computed
    log = tmp_path / "log"
    resumed = store.sweep(items, lambda cfg, s: _logged({"log": log}, s))
    assert sorted(int(s) for s in log.read_text().split()) == sorted(failed)
    whole = RunStore("toy", root=tmp_path / "serial").sweep(
        [({"die_at": 3}, s) for s in range(6)], lambda cfg, s: _toy_run({"die_at": -1}, s))
    assert [r.result for r in resumed] == [r.result for r in whole]


def test_same_seed_twice_in_one_process_is_bit_identical():
    from hw1.data import load_dataset
    from hw1.ensemble import train_ensemble

    data = load_dataset("digits")

    def once():
        torch.manual_seed(5)
        model = mlp(64, [32], 10)
        hist = train(model, data.x_train, data.y_train, data.x_test, data.y_test, epochs=2,
                     batch_size=32, lr=1e-3, seed=5)
        return hist, torch.nn.utils.parameters_to_vector(model.parameters()).detach()

    (h1, p1), (h2, p2) = once(), once()
    assert h1.to_dict() == h2.to_dict() and torch.equal(p1, p2)

    def ensemble():
        models = []
        for s in (0, 1):
            torch.manual_seed(s)
            models.append(mlp(64, [16], 10))
        hists, ens = train_ensemble(models, data.x_train, data.y_train, epochs=2,
                                    batch_size=64, lr=1e-3, seeds=[0, 1])
        return [h.to_dict() for h in hists], ens.flat_params()

    (e1, q1), (e2, q2) = ensemble(), ensemble()
    assert jsonable(e1) == jsonable(e2) and torch.equal(q1, q2)  # NaN test metrics -> None
