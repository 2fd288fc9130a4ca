import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from hw1.data import (
    CIFAR10_CLASSES,
    DataCorruptError,
    DataNotFoundError,
    load_dataset,
    load_subset,
    subset,
    target_function,
)


def test_digits_shapes_dtypes_and_normalization():
    d = load_dataset("digits")
    x_train, y_train, x_test, y_test, source = d  # unpacks like a tuple
    assert x_train.shape == (1437, 1, 8, 8) and x_test.shape == (360, 1, 8, 8)
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.int64
    assert y_train.shape == (1437,) and y_test.shape == (360,)
    assert abs(x_train.mean().item()) < 1e-5 and abs(x_train.std().item() - 1) < 1e-3
    assert d.num_classes == 10 and d.input_shape == (1, 8, 8)
    assert "digits" in source
    assert set(y_train.tolist()) == set(range(10))


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown dataset 'svhn'.*mnist, cifar10, digits"):
        load_dataset("svhn")


def test_missing_mnist_without_network_says_where_and_mentions_smoke(tmp_path, monkeypatch):
    from torchvision.datasets import MNIST

    def no_network(self):
        raise OSError("Name or service not known")

    monkeypatch.setattr(MNIST, "download", no_network)
    monkeypatch.setenv("HW1_DATA_DIR", str(tmp_path))
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("mnist")
    msg = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in msg
    assert "MNIST/raw/" in msg and "../shared" not in msg and "HW1_PROFILE=smoke" in msg


def _write_idx(path, magic_type, dims, payload: bytes):
    header = bytes([0, 0, magic_type, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    path.write_bytes(header + payload)


def test_truncated_mnist_files_are_reported(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 60000), ("t10k", 10000)):
        # headers promise n images, but the files hold only 10
        _write_idx(raw / f"{split}-images-idx3-ubyte", 0x08, [n, 28, 28], bytes(10 * 784))
        _write_idx(raw / f"{split}-labels-idx1-ubyte", 0x08, [n], bytes(10))
    monkeypatch.setenv("HW1_DATA_DIR", str(tmp_path))
    with pytest.raises(DataCorruptError, match=r"truncated or corrupt"):
        load_dataset("mnist")


def test_small_valid_mnist_copy_is_rejected_by_shape(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "t10k"):
        _write_idx(raw / f"{split}-images-idx3-ubyte", 0x08, [10, 28, 28], bytes(10 * 784))
        _write_idx(raw / f"{split}-labels-idx1-ubyte", 0x08, [10], bytes(10))
    monkeypatch.setenv("HW1_DATA_DIR", str(tmp_path))
    with pytest.raises(DataCorruptError, match=r"expected \(60000, 28, 28\)"):
        load_dataset("mnist")


def _make_image_folder(root, per_class=2):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for c in CIFAR10_CLASSES:
            folder = root / "cifar10" / split / c
            folder.mkdir(parents=True)
            for i in range(per_class):
                img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(img).save(folder / f"{i:04d}.jpg", quality=75)


def test_cifar10_image_folder_is_read_cached_and_labelled_jpeg(tmp_path, monkeypatch):
    _make_image_folder(tmp_path)
    monkeypatch.setenv("HW1_DATA_DIR", str(tmp_path))
    d = load_dataset("cifar10")
    assert d.x_train.shape == (20, 3, 32, 32) and d.x_test.shape == (20, 3, 32, 32)
    assert d.y_train.tolist() == [c for c in range(10) for _ in range(2)]
    assert "CIFAR-10 (JPEG copy)" in d.source
    assert (tmp_path / "cifar10" / "cache.npz").exists()
    again = load_dataset("cifar10")  # from the cache
    assert torch.equal(again.x_train, d.x_train)


def test_corrupt_cifar10_image_is_reported(tmp_path, monkeypatch):
    _make_image_folder(tmp_path)
    bad = tmp_path / "cifar10" / "train" / "cat" / "0001.jpg"
    bad.write_bytes(bad.read_bytes()[:20])
    monkeypatch.setenv("HW1_DATA_DIR", str(tmp_path))
    with pytest.raises(DataCorruptError, match=r"0001\.jpg"):
        load_dataset("cifar10")


def test_cifar10_folder_with_wrong_classes_is_reported(tmp_path, monkeypatch):
    _make_image_folder(tmp_path, per_class=1)
    shutil.rmtree(tmp_path / "cifar10" / "test" / "truck")
    monkeypatch.setenv("HW1_DATA_DIR", str(tmp_path))
    with pytest.raises(DataCorruptError, match="one folder per CIFAR-10 class"):
        load_dataset("cifar10")


def test_subset_is_seeded():
    x, y = torch.arange(100).float(), torch.arange(100)
    a = subset(x, y, 10, torch.Generator().manual_seed(3))
    b = subset(x, y, 10, torch.Generator().manual_seed(3))
    assert torch.equal(a[1], b[1]) and len(a[0]) == 10 and torch.equal(a[0].long(), a[1])
    with pytest.raises(ValueError, match="positive"):
        subset(x, y, 0, torch.Generator())


def test_load_subset_is_seeded_sized_and_cached():
    a = load_subset("digits", 100, 50)
    assert a.x_train.shape == (100, 1, 8, 8) and a.x_test.shape == (50, 1, 8, 8)
    assert "random subset of 100 train / 50 test images (seed 0)" in a.source
    assert load_subset("digits", 100, 50) is a  # cached: every model of a sweep shares it
    b = load_subset("digits", 100, 50, seed=1)
    assert not torch.equal(a.y_train, b.y_train)
    full = load_dataset("digits")
    assert torch.equal(load_subset("digits", 10**6, 10**6).x_train, full.x_train)


def test_target_functions():
    sinc = target_function("sinc")
    x, y = sinc.sample(101)
    assert x.shape == (101, 1) and y.shape == (101, 1)
    assert x.min().item() == sinc.domain[0] and x.max().item() == sinc.domain[1]
    assert torch.allclose(y[50], torch.tensor([1.0]))  # the limit at x = 0
    xs = torch.tensor([[0.1], [0.3]])
    assert torch.allclose(sinc.fn(xs), torch.sin(5 * torch.pi * xs) / (5 * torch.pi * xs))
    square = target_function("square_wave")
    assert square.fn(torch.tensor([[0.1], [0.3]])).flatten().tolist() == [1.0, -1.0]
    with pytest.raises(ValueError, match="valid: sinc, square_wave"):
        target_function("cos")
