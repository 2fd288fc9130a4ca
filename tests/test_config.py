from dataclasses import FrozenInstanceError, dataclass
from typing import ClassVar

import pytest
import torch

from hw1.config import ExperimentConfig, device, profile, seed_everything


@dataclass(frozen=True)
class ToyConfig(ExperimentConfig):
    name: ClassVar[str] = "toy"
    positive: ClassVar[tuple[str, ...]] = ("epochs", "widths", "lr")
    epochs: int = 3
    widths: tuple[int, ...] = (4, 4)
    lr: float = 0.1
    dataset: str = "digits"


ToyConfig.register(full=ToyConfig(epochs=30), smoke=ToyConfig())


def test_profile_defaults_to_full(monkeypatch):
    monkeypatch.delenv("HW1_PROFILE")
    assert profile() == "full"
    monkeypatch.setenv("HW1_PROFILE", "smoke")
    assert profile() == "smoke"


def test_unknown_profile_names_valid_values(monkeypatch):
    monkeypatch.setenv("HW1_PROFILE", "quick")
    with pytest.raises(ValueError, match=r"'quick'.*full, smoke"):
        profile()


def test_resolve_picks_profile_and_applies_overrides():
    assert ToyConfig.resolve().epochs == 3
    assert ToyConfig.resolve("full").epochs == 30
    cfg = ToyConfig.resolve(lr=1, widths=[2, 3])
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float) and cfg.widths == (2, 3)
    with pytest.raises(FrozenInstanceError):
        cfg.lr = 2.0


def test_unknown_override_lists_valid_settings():
    with pytest.raises(ValueError, match=r"no setting 'epoch'.*valid settings: epochs, widths"):
        ToyConfig.resolve(epoch=3)


@pytest.mark.parametrize("key, value", [("epochs", 2.5), ("epochs", "3"), ("epochs", True),
                                        ("widths", [1, "a"]), ("dataset", 3)])
def test_wrongly_typed_override_is_rejected(key, value):
    with pytest.raises(ValueError, match=rf"ToyConfig\.{key} must be"):
        ToyConfig.resolve(**{key: value})


@pytest.mark.parametrize("key, value", [("epochs", 0), ("widths", (3, -1)), ("lr", -0.1)])
def test_non_positive_settings_are_rejected(key, value):
    with pytest.raises(ValueError, match=rf"ToyConfig\.{key} must be positive"):
        ToyConfig.resolve(**{key: value})


def test_unknown_profile_in_resolve():
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        ToyConfig.resolve("fast")


def test_seed_everything_gives_same_numbers():
    g1 = seed_everything(7)
    a = torch.randn(5), torch.randperm(10, generator=g1)
    g2 = seed_everything(7)
    b = torch.randn(5), torch.randperm(10, generator=g2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(-1)


def test_device_choice_and_override(monkeypatch):
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert device().type == expected
    monkeypatch.setenv("HW1_DEVICE", "cpu")
    assert device() == torch.device("cpu")
    monkeypatch.setenv("HW1_DEVICE", "gpu0")
    with pytest.raises(ValueError, match=r"HW1_DEVICE='gpu0'.*cpu, cuda"):
        device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("HW1_DEVICE", "cuda")
        with pytest.raises(ValueError, match="CUDA is not available"):
            device()
