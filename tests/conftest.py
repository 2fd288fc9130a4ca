"""Every test runs under the smoke profile with scratch folders for figures and runs."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("HW1_PROFILE", "smoke")
    monkeypatch.setenv("HW1_FIGURES_DIR", str(tmp_path / "figures"))
    monkeypatch.setenv("HW1_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    for var in ("HW1_RERUN", "HW1_STORE_ONLY", "HW1_DEVICE", "HW1_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    torch.manual_seed(0)
