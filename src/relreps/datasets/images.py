"""Image datasets from local files: IDX (MNIST, Fashion-MNIST, KMNIST) and scikit-learn's digits.

No downloads and no torchvision: the IDX format is a small header plus raw bytes. Fashion-MNIST
installs offline from Debian (``apt-get install dataset-fashion-mnist``) into
``/usr/share/datasets/fashion-mnist``; any folder holding the four standard files works.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from relreps.io import sha256_array, sha256_files

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_DIR",
    "ImageDataset",
    "find_idx_files",
    "load_digits_dataset",
    "load_idx_dataset",
    "load_image_dataset",
    "read_idx",
]


FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# Both spellings seen in the wild: train-images-idx3-ubyte and train-images.idx3-ubyte.
_STEMS = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """A labelled image dataset with a fixed train/test split.

    Images are ``uint8`` of shape ``(n, height, width)``; labels ``int64`` of shape ``(n,)``.
    ``source`` says where the data came from and ``sha256`` hashes the files it was read from.
    """

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    source: str
    sha256: str
    notes: list[str] = field(default_factory=list)

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(self.train_images.shape[1:])  # type: ignore[return-value]

    def tensor(self, split: str) -> Any:
        """The ``"train"`` or ``"test"`` images as a float32 tensor ``(n, 1, height, width)`` in
        [0, 1]: what the models of :mod:`relreps.models` read."""
        import torch

        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
        images = self.train_images if split == "train" else self.test_images
        return torch.from_numpy(images).float().div_(255).unsqueeze(1)

    def subset(
        self, n_train: int | None = None, n_test: int | None = None, seed: int = 0
    ) -> ImageDataset:
        """A class-stratified random subset (``None`` keeps a split whole)."""
        rng = np.random.default_rng(seed)

        def pick(labels: np.ndarray, n: int | None) -> np.ndarray:
            if n is None or n >= len(labels):
                return np.arange(len(labels))
            from sklearn.model_selection import train_test_split

            index = np.arange(len(labels))
            chosen, _ = train_test_split(
                index, train_size=n, stratify=labels, random_state=int(rng.integers(2**31))
            )
            return np.sort(chosen)

        train = pick(self.train_labels, n_train)
        test = pick(self.test_labels, n_test)
        return ImageDataset(
            name=self.name,
            train_images=self.train_images[train],
            train_labels=self.train_labels[train],
            test_images=self.test_images[test],
            test_labels=self.test_labels[test],
            class_names=self.class_names,
            source=self.source,
            sha256=self.sha256,
            notes=[*self.notes, f"subset: {len(train)} train / {len(test)} test (seed {seed})"],
        )


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed) into a numpy array.

    Raises ``ValueError`` naming the file when it is not a well-formed IDX file.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"Cannot read {path}: {error}. Is it a complete IDX file?") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {data[:4].hex()}).")
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"{path} is truncated or corrupt: its header promises shape {shape} "
            f"({expected} bytes) but the file has {len(data)} bytes."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def find_idx_files(folder: str | os.PathLike[str]) -> dict[str, Path] | None:
    """The four standard IDX files in ``folder`` (``.gz`` or not), or ``None`` if any is missing."""
    folder = Path(folder)
    found: dict[str, Path] = {}
    for key, stems in _STEMS.items():
        for stem in stems:
            for candidate in (folder / stem, folder / f"{stem}.gz"):
                if candidate.is_file():
                    found[key] = candidate
                    break
            if key in found:
                break
        else:
            return None
    return found


def load_idx_dataset(
    folder: str | os.PathLike[str],
    name: str | None = None,
    class_names: tuple[str, ...] | None = None,
) -> ImageDataset:
    """Load an MNIST-format dataset (train/t10k images and labels) from ``folder``."""
    folder = Path(folder)
    files = find_idx_files(folder)
    if files is None:
        wanted = ", ".join(stems[0] + "[.gz]" for stems in _STEMS.values())
        raise FileNotFoundError(f"{folder} does not hold the four IDX files ({wanted}).")
    arrays = {key: read_idx(path) for key, path in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(
                f"{folder}: {split} images have shape {images.shape} and labels {labels.shape}; "
                "expected (n, height, width) images with one label each."
            )
    if name is None:
        name = "fashion-mnist" if "fashion" in str(folder).lower() else folder.name
    n_classes = int(arrays["train_labels"].max()) + 1
    if class_names is None:
        class_names = (
            FASHION_MNIST_CLASSES if name == "fashion-mnist" else tuple(map(str, range(n_classes)))
        )
    return ImageDataset(
        name=name,
        train_images=arrays["train_images"].astype(np.uint8),
        train_labels=arrays["train_labels"].astype(np.int64),
        test_images=arrays["test_images"].astype(np.uint8),
        test_labels=arrays["test_labels"].astype(np.int64),
        class_names=class_names,
        source=f"IDX files in {folder}",
        sha256=sha256_files(tuple(files[key] for key in _STEMS)),
    )


def load_digits_dataset(
    image_size: int = 28, test_fraction: float = 0.2, seed: int = 0
) -> ImageDataset:
    """scikit-learn's 1,797 real 8x8 handwritten digits, upsampled (bilinear) to ``image_size``."""
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
    images = torch.nn.functional.interpolate(
        images, size=(image_size, image_size), mode="bilinear", align_corners=False
    )
    images = (images.squeeze(1).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    labels = digits.target.astype(np.int64)
    train, test = train_test_split(
        np.arange(len(labels)), test_size=test_fraction, stratify=labels, random_state=seed
    )
    return ImageDataset(
        name="digits",
        train_images=images[train],
        train_labels=labels[train],
        test_images=images[test],
        test_labels=labels[test],
        class_names=tuple(map(str, range(10))),
        source=f"scikit-learn load_digits (8x8, upsampled to {image_size}x{image_size})",
        sha256=sha256_array(digits.images),
    )


def load_image_dataset(
    data_dir: str | os.PathLike[str] | None = None, *, fallback: bool = True
) -> ImageDataset:
    """The image dataset for the experiments.

    Looks in ``data_dir`` (if given), then ``$RELREPS_DATA_DIR``, then the Debian Fashion-MNIST
    folder. Without any of them: scikit-learn's digits when ``fallback`` is true (the returned
    dataset's ``notes`` say so), else ``FileNotFoundError``. A ``data_dir`` given explicitly must
    hold the files: a typo is an error, not a silent fallback.
    """
    if data_dir is not None:
        return load_idx_dataset(data_dir)
    candidates = [os.environ.get("RELREPS_DATA_DIR"), FASHION_MNIST_DIR]
    for folder in candidates:
        if folder and find_idx_files(folder) is not None:
            return load_idx_dataset(folder)
    if not fallback:
        raise FileNotFoundError(
            "No IDX image dataset found (looked in $RELREPS_DATA_DIR and "
            f"{FASHION_MNIST_DIR}). Install it with 'apt-get install dataset-fashion-mnist' or "
            "pass --data-dir with MNIST-format files."
        )
    dataset = load_digits_dataset()
    dataset.notes.append(
        f"Fashion-MNIST was not found (looked in $RELREPS_DATA_DIR and {FASHION_MNIST_DIR}); "
        "fell back to scikit-learn's digits. Install it with 'apt-get install "
        "dataset-fashion-mnist' or pass --data-dir."
    )
    return dataset
