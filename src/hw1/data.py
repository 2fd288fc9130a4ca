"""Datasets as in-memory normalized tensors, and the 1-D target functions of HW1-1.

``load_dataset(name)`` returns a :class:`Dataset` (a named tuple, so
``x_train, y_train, x_test, y_test, source = load_dataset("mnist")`` works) for

* ``"mnist"``: torchvision's MNIST in ``data/MNIST/raw`` (downloaded when online),
* ``"cifar10"``: an image folder ``data/cifar10/{train,test}/<class>/*`` (the offline JPEG
  copy; decoded once and cached in ``data/cifar10/cache.npz``) or torchvision's CIFAR10,
* ``"digits"``: scikit-learn's bundled 8x8 digits (no network, no files; the smoke profile).

Images are float32 ``(N, C, H, W)``, standardized per channel with training-set statistics;
labels are int64 ``(N,)``.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from hw1.paths import data_dir

DATASETS = ("mnist", "cifar10", "digits")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
OFFLINE_HINT = (
    "On a machine without network, copy the files there yourself: MNIST's four `*-ubyte` "
    "files into `MNIST/raw/`, CIFAR-10 as torchvision's `cifar-10-batches-py/` or as an "
    "image folder `cifar10/{train,test}/<class>/` (see data/README.md); "
    "`HW1_PROFILE=smoke` runs every notebook on scikit-learn's bundled digits and needs no files."
)


class DataNotFoundError(FileNotFoundError):
    """The dataset's files are missing and could not be downloaded."""


class DataCorruptError(ValueError):
    """The dataset's files are present but truncated or corrupt."""


class Dataset(NamedTuple):
    """In-memory dataset. Shapes: x ``(N, C, H, W)`` float32, y ``(N,)`` int64."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    source: str

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, e.g. ``(1, 28, 28)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        """Number of classes (largest label + 1 over train and test)."""
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    def subsample(self, n_train: int, n_test: int, seed: int = 0) -> Dataset:
        """Random subsets of the train and test splits, drawn with a seeded generator.

        Args:
            n_train, n_test: subset sizes (the whole split when larger than it).
            seed: seeds the draw, so every model of an experiment sees the same subset.
        """
        gen = torch.Generator().manual_seed(seed)
        x_tr, y_tr = subset(self.x_train, self.y_train, n_train, gen)
        x_te, y_te = subset(self.x_test, self.y_test, n_test, gen)
        note = (f"; random subset of {len(x_tr)} train / {len(x_te)} test images (seed {seed})"
                if (len(x_tr), len(x_te)) != (len(self.x_train), len(self.x_test)) else "")
        return Dataset(x_tr, y_tr, x_te, y_te, self.source + note)


def load_dataset(name: str) -> Dataset:
    """Load a dataset by name as normalized in-memory tensors.

    Args:
        name: one of ``"mnist"``, ``"cifar10"``, ``"digits"``.

    Raises:
        ValueError: for an unknown name (the message lists the valid ones).
        DataNotFoundError: files missing and no download possible (says where to put them).
        DataCorruptError: files present but truncated or corrupt (says which).
    """
    key = str(name).lower()
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    return {"mnist": _load_mnist, "cifar10": _load_cifar10, "digits": _load_digits}[key]()


@functools.lru_cache(maxsize=2)
def load_subset(name: str, n_train: int, n_test: int, seed: int = 0) -> Dataset:
    """:func:`load_dataset` then :meth:`Dataset.subsample`, cached (the two most recent).

    Every experiment that trains several models on one subset calls this instead of keeping
    the data around itself. The tensors are shared between callers: do not modify them.
    """
    return load_dataset(name).subsample(n_train, n_test, seed)


def subset(x: torch.Tensor, y: torch.Tensor, n: int,
           generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A random subset of ``n`` samples chosen with ``generator`` (all of them if n >= N)."""
    if n <= 0:
        raise ValueError(f"subset size must be positive, got {n}")
    if n >= len(x):
        return x, y
    idx = torch.randperm(len(x), generator=generator)[:n]
    return x[idx], y[idx]


def _brief(err: Exception) -> str:
    """First line of an exception's message, for error texts that wrap it."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"


def _standardize(x_train: np.ndarray, x_test: np.ndarray, divisor: float = 1.0,
                 chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardize ``(N, C, H, W)`` arrays (e.g. uint8 pixels) per channel with training
    statistics of ``x / divisor``, into float32 tensors.

    Works ``chunk`` images at a time in float64, so the peak memory is the float32 result
    plus one chunk, not a float64 copy of the whole dataset (1.2 GB for CIFAR-10's train set).
    """
    channels = x_train.shape[1]
    total = np.zeros((1, channels, 1, 1))
    count = x_train.shape[0] * x_train.shape[2] * x_train.shape[3]
    for s in range(0, len(x_train), chunk):
        total += (x_train[s:s + chunk] / divisor).sum(axis=(0, 2, 3), keepdims=True,
                                                    dtype=np.float64)
    mean = total / count
    sq = np.zeros_like(mean)
    for s in range(0, len(x_train), chunk):
        sq += ((x_train[s:s + chunk] / divisor - mean) ** 2).sum(axis=(0, 2, 3), keepdims=True)
    std = np.sqrt(sq / count)
    out = []
    for a in (x_train, x_test):
        # same memory layout as the input: CIFAR-10's (N, H, W, C) pixels give channels-last
        # strides, which the CPU convolutions run markedly faster on
        result = np.empty_like(a, dtype=np.float32)
        for s in range(0, len(a), chunk):
            result[s:s + chunk] = (a[s:s + chunk] / divisor - mean) / std
        out.append(torch.from_numpy(result))
    return out[0], out[1]


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = bunch.images[:, None]  # (1797, 1, 8, 8), values 0..16
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, bunch.target, test_size=0.2, random_state=0, stratify=bunch.target)
    xt, xv = _standardize(x_tr, x_te, divisor=16.0)
    return Dataset(xt, torch.as_tensor(y_tr, dtype=torch.int64), xv,
                   torch.as_tensor(y_te, dtype=torch.int64),
                   "scikit-learn bundled digits (8x8, 1437 train / 360 test)")


def _load_mnist() -> Dataset:
    from torchvision.datasets import MNIST

    root = data_dir()
    raw = root / "MNIST" / "raw"
    files = [raw / f"{split}-{kind}-ubyte" for split in ("train", "t10k")
             for kind in ("images-idx3", "labels-idx1")]
    if not all(f.exists() for f in files):
        try:
            MNIST(str(root), train=True, download=True)
        except Exception as err:
            raise DataNotFoundError(
                f"MNIST is not in {raw} and could not be downloaded ({_brief(err)}). "
                + OFFLINE_HINT) from None
    splits = []
    for train in (True, False):
        try:
            ds = MNIST(str(root), train=train, download=False)
        except Exception as err:
            raise DataCorruptError(
                f"MNIST files in {raw} are truncated or corrupt ({_brief(err)}); "
                "delete them and copy them again or let torchvision download them again.") from None
        splits.append((ds.data, ds.targets))
    (xtr, ytr), (xte, yte) = splits
    expected = {"train": (60000, 28, 28), "test": (10000, 28, 28)}
    for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        if tuple(x.shape) != expected[split] or len(y) != expected[split][0]:
            raise DataCorruptError(
                f"MNIST {split} files in {raw} hold {tuple(x.shape)} images and {len(y)} labels, "
                f"expected {expected[split]}; they are truncated or corrupt: reinstall them.")
    x_train, x_test = _standardize(xtr.numpy()[:, None], xte.numpy()[:, None], divisor=255.0)
    return Dataset(x_train, ytr.long(), x_test, yte.long(), f"MNIST (torchvision files in {raw})")


def _load_cifar10() -> Dataset:
    folder = data_dir() / "cifar10"
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        arrays = _cifar10_from_image_folder(folder)
        source = f"CIFAR-10 (JPEG copy) from image folder {folder}"
    else:
        arrays = _cifar10_from_torchvision(data_dir())
        source = f"CIFAR-10 (torchvision files in {data_dir()})"
    xtr, ytr, xte, yte = arrays
    x_train, x_test = _standardize(xtr.transpose(0, 3, 1, 2), xte.transpose(0, 3, 1, 2),
                                   divisor=255.0)
    return Dataset(x_train, torch.from_numpy(ytr.astype(np.int64)), x_test,
                   torch.from_numpy(yte.astype(np.int64)), source)


def _cifar10_from_torchvision(root: Path) -> tuple[np.ndarray, ...]:
    from torchvision.datasets import CIFAR10

    out = []
    for train in (True, False):
        try:
            ds = CIFAR10(str(root), train=train, download=True)
        except Exception as err:
            raise DataNotFoundError(
                f"CIFAR-10 is neither an image folder in {root / 'cifar10'}/{{train,test}} nor "
                f"torchvision files in {root}, and could not be downloaded ({_brief(err)}). "
                + OFFLINE_HINT) from None
        out += [np.asarray(ds.data), np.asarray(ds.targets)]
    return tuple(out)


def _list_image_folder(split_dir: Path) -> list[tuple[Path, int]]:
    classes = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
    if tuple(classes) != CIFAR10_CLASSES:
        raise DataCorruptError(
            f"{split_dir} should hold one folder per CIFAR-10 class {CIFAR10_CLASSES}, "
            f"found {classes}; copy the folder again (see data/README.md).")
    return [(split_dir / c / f, i) for i, c in enumerate(classes)
            for f in sorted(os.listdir(split_dir / c))]


def _cifar10_from_image_folder(folder: Path) -> tuple[np.ndarray, ...]:
    """Decode the image folder once into uint8 arrays ``(N, 32, 32, 3)``; cache as .npz."""
    listings = {s: _list_image_folder(folder / s) for s in ("train", "test")}
    cache = folder / "cache.npz"
    if cache.exists():
        try:
            with np.load(cache, allow_pickle=False) as z:
                arrays = tuple(z[k] for k in ("x_train", "y_train", "x_test", "y_test"))
            if len(arrays[0]) == len(listings["train"]) and len(arrays[2]) == len(listings["test"]):
                return arrays
        except Exception:  # noqa: BLE001 - a bad cache is rebuilt below
            pass
    from PIL import Image

    from hw1.progress import progress

    out = []
    for split, items in listings.items():
        x = np.empty((len(items), 32, 32, 3), dtype=np.uint8)
        y = np.empty(len(items), dtype=np.int64)
        for i, (path, label) in enumerate(progress(items, desc=f"decoding CIFAR-10 {split}")):
            try:
                with Image.open(path) as im:
                    x[i] = np.asarray(im.convert("RGB"))
            except Exception as err:
                raise DataCorruptError(
                    f"cannot read {path} ({type(err).__name__}: {err}); the CIFAR-10 image "
                    "folder is truncated or corrupt: copy it again (see data/README.md).") from None
            y[i] = label
        out += [x, y]
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, x_train=out[0], y_train=out[1], x_test=out[2], y_test=out[3])
    os.replace(tmp, cache)
    return tuple(out)


def dataset_label(source: str, name: str) -> str:
    """Human label; the offline CIFAR-10 copy is always called "CIFAR-10 (JPEG copy)"."""
    if "JPEG copy" in source:
        return "CIFAR-10 (JPEG copy)"
    return {"mnist": "MNIST", "cifar10": "CIFAR-10", "digits": "8x8 digits"}.get(name, name)


# --------------------------------------------------------------------------- 1-D targets


@dataclass(frozen=True)
class TargetFunction:
    """A 1-D function to fit, with its domain.

    Attributes:
        name: short identifier.
        formula: human-readable formula (for plot titles).
        domain: (low, high) interval the inputs are drawn from.
        fn: maps a tensor ``(N, 1)`` to a tensor ``(N, 1)``.
    """

    name: str
    formula: str
    domain: tuple[float, float]
    fn: Callable[[torch.Tensor], torch.Tensor]

    def sample(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` evenly spaced points over the domain: ``x, y`` both ``(n, 1)`` float32."""
        if n <= 0:
            raise ValueError(f"number of points must be positive, got {n}")
        x = torch.linspace(*self.domain, n).unsqueeze(1)
        return x, self.fn(x)


TARGET_FUNCTIONS = {
    "sinc": TargetFunction(
        "sinc", "sin(5πx)/(5πx)", (-1.0, 1.0), lambda x: torch.sinc(5.0 * x)),
    "square_wave": TargetFunction(
        "square_wave", "sgn(sin(5πx))", (-1.0, 1.0),
        lambda x: torch.sign(torch.sin(5 * math.pi * x))),
}


def target_function(name: str) -> TargetFunction:
    """Look up a target function by name (``"sinc"`` or ``"square_wave"``)."""
    if name not in TARGET_FUNCTIONS:
        raise ValueError(f"unknown target function {name!r}; valid: {', '.join(TARGET_FUNCTIONS)}")
    return TARGET_FUNCTIONS[name]
