"""Every experiment's config (full and smoke), its validation, and re-plotting from the store."""

import importlib

import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402

from hw1 import figures  # noqa: E402
from hw1.experiments import EXPERIMENTS  # noqa: E402

MODULES = [importlib.import_module(f"hw1.experiments.{name}") for name in EXPERIMENTS]


@pytest.mark.parametrize("module", MODULES, ids=EXPERIMENTS)
def test_config_has_full_and_smoke_and_rejects_unknown_settings(module):
    full, smoke = module.Config.resolve("full"), module.Config.resolve("smoke")
    assert full != smoke and module.Config.resolve() == smoke  # the tests run under smoke
    assert full.name == module.Config.name
    with pytest.raises(ValueError, match="has no setting 'epochz'"):
        module.Config.resolve(epochz=3)


@pytest.mark.parametrize("module", [m for m in MODULES if hasattr(m.Config, "epochs")
                                    and isinstance(m.Config.epochs, int)],
                         ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_non_positive_epochs_are_rejected_before_any_work(module):
    with pytest.raises(ValueError, match=r"\.epochs must be positive"):
        module.Config.resolve(epochs=0)


@pytest.mark.parametrize("module, key, value", [
    (importlib.import_module("hw1.experiments.train_actual_task"), "datasets", ("mnist", "svhn")),
    (importlib.import_module("hw1.experiments.interpolation"), "dataset", "imagenet"),
    (importlib.import_module("hw1.experiments.simulate_function"), "functions", ("cos",)),
])
def test_unknown_dataset_or_function_in_a_config_is_rejected(module, key, value):
    with pytest.raises(ValueError, match=rf"\.{key}: .* is not valid; choose from"):
        module.Config.resolve(**{key: value})


def test_train_actual_task_needs_one_setting_per_dataset():
    module = importlib.import_module("hw1.experiments.train_actual_task")
    with pytest.raises(ValueError, match="need one entry per dataset"):
        module.Config.resolve(datasets=("digits", "digits"))


def test_figures_are_rerendered_from_the_store_alone(tmp_path, monkeypatch, capsys):
    names = ["simulate_function", "gradient_norm"]
    monkeypatch.setenv("HW1_STORE_ONLY", "1")
    assert figures.render(names) == 2  # nothing stored yet: both reported, none trained
    assert "not rendered: no stored run" in capsys.readouterr().out
    monkeypatch.delenv("HW1_STORE_ONLY")
    for name in names:  # compute and store the smoke runs
        module = importlib.import_module(f"hw1.experiments.{name}")
        module.run(module.Config.resolve())
    for png in (tmp_path / "figures").glob("*.png"):
        png.unlink()
    monkeypatch.setenv("HW1_STORE_ONLY", "1")
    assert figures.render(names) == 0
    made = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
    assert made == ["gradient_noise_scale_and_adam_update.png", "gradient_norm_and_loss.png",
                    "gradient_norm_noise.png", "simulate_function_predictions.png",
                    "simulate_function_success.png",
                    "simulate_function_training_loss.png"]
    assert figures.main(["no_such_experiment"]) == 2
