"""hw1: MLDS 2018 / CPSC 8430 Homework 1, reproduced with tested metrics.

Sub-modules, one concern each:
    paths     repo root, data/figures/run-store folders (from the package location)
    config    profile switch, seeding, device choice, frozen experiment configs
    data      datasets (MNIST, CIFAR-10, bundled digits) and 1-D target functions
    models    MLP/CNN builders, parameter counting and parameter matching
    training  in-memory batches, the training loop and its history
    ensemble  many small models trained at once with torch.func
    metrics   gradient norm, Hessian, minimal ratio, sensitivity, sharpness, interpolation
    store     the run store: raw results keyed by config hash, atomic writes
    plotting  shared style and the one figure-saving helper
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hw1")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"
