from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from relreps.datasets.images import (
    FASHION_MNIST_DIR,
    find_idx_files,
    load_digits_dataset,
    load_idx_dataset,
    load_image_dataset,
    read_idx,
)


def write_idx(path, array: np.ndarray, compress: bool = False) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def make_idx_folder(folder, compress=False, dotted=False, n_train=12, n_test=6):
    rng = np.random.default_rng(0)
    sep = "." if dotted else "-"
    suffix = ".gz" if compress else ""
    write_idx(
        folder / f"train-images{sep}idx3-ubyte{suffix}",
        rng.integers(0, 256, (n_train, 28, 28)),
        compress,
    )
    write_idx(folder / f"train-labels{sep}idx1-ubyte{suffix}", np.arange(n_train) % 3, compress)
    write_idx(
        folder / f"t10k-images{sep}idx3-ubyte{suffix}",
        rng.integers(0, 256, (n_test, 28, 28)),
        compress,
    )
    write_idx(folder / f"t10k-labels{sep}idx1-ubyte{suffix}", np.arange(n_test) % 3, compress)


@pytest.mark.parametrize(("compress", "dotted"), [(False, False), (True, False), (False, True)])
def test_reads_mnist_format_folders(tmp_path, compress, dotted):
    make_idx_folder(tmp_path, compress, dotted)
    dataset = load_idx_dataset(tmp_path, name="toy")
    assert dataset.train_images.shape == (12, 28, 28) and dataset.train_images.dtype == np.uint8
    assert dataset.test_labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert dataset.class_names == ("0", "1", "2")
    assert len(dataset.sha256) == 64


def test_truncated_and_foreign_files_are_reported(tmp_path):
    path = tmp_path / "x-idx1-ubyte"
    write_idx(path, np.arange(10))
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(path)
    path.write_bytes(b"\x89PNG....")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(path)
    gz = tmp_path / "y.gz"
    gz.write_bytes(b"definitely not gzip")
    with pytest.raises(ValueError, match="Cannot read"):
        read_idx(gz)


def test_missing_files_and_explicit_bad_folder(tmp_path):
    assert find_idx_files(tmp_path) is None
    with pytest.raises(FileNotFoundError, match="does not hold the four IDX files"):
        load_image_dataset(tmp_path)


def test_fallback_to_digits_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("RELREPS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("relreps.datasets.images.FASHION_MNIST_DIR", tmp_path / "absent")
    dataset = load_image_dataset()
    assert dataset.name == "digits" and "fell back to scikit-learn's digits" in dataset.notes[-1]
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_image_dataset(fallback=False)


def test_digits_are_real_and_upsampled():
    dataset = load_digits_dataset()
    assert dataset.train_images.shape[1:] == (28, 28)
    assert len(dataset.train_labels) + len(dataset.test_labels) == 1797
    assert dataset.train_images.max() == 255


def test_subset_is_stratified_and_deterministic():
    dataset = load_digits_dataset()
    a = dataset.subset(200, 50, seed=1)
    b = dataset.subset(200, 50, seed=1)
    assert np.array_equal(a.train_images, b.train_images)
    assert np.bincount(a.train_labels).min() >= 19
    assert "subset: 200 train / 50 test" in a.notes[-1]


@pytest.mark.skipif(
    not FASHION_MNIST_DIR.exists(), reason="Debian's dataset-fashion-mnist is not installed"
)
def test_real_fashion_mnist():
    dataset = load_image_dataset()
    assert dataset.name == "fashion-mnist"
    assert dataset.train_images.shape == (60000, 28, 28) and dataset.test_images.shape == (
        10000,
        28,
        28,
    )
    assert np.bincount(dataset.train_labels).tolist() == [6000] * 10
    assert dataset.class_names[9] == "Ankle boot"
