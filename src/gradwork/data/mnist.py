"""MNIST and Fashion-MNIST from their published IDX files, with optional verified download."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gradwork.data.dataset import TensorDataset
from gradwork.data.download import download_file
from gradwork.data.idx import read_idx


class MNIST(TensorDataset):
    """The MNIST handwritten digits, read from the published files in `root`.

    Files (names as published; a gunzipped copy without `.gz` also works):
    `train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz` (60,000) and
    `t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz` (10,000).

    Args:
        root: Folder holding the files (they sit directly in it).
        train: The training files, else the t10k test files.
        download: Fetch missing files from `mirrors`, verify their MD5, and
            keep any good file that is already there.

    Items are `(image, label)`: float32 (1, 28, 28) in [0, 1] and int64. It is
    a TensorDataset, so the DataLoader's fast path applies. `.data` holds the
    raw uint8 images (N, 28, 28), `.targets` the uint8 labels.

    Example:
        >>> import tempfile
        >>> MNIST(tempfile.mkdtemp(), train=False)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        FileNotFoundError: MNIST: missing ...
    """

    mirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    resources = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    classes = [str(digit) for digit in range(10)]

    def __init__(self, root: str | os.PathLike, train: bool = True, download: bool = False) -> None:
        self.root = Path(root).expanduser()
        self.train = bool(train)
        prefix = "train" if train else "t10k"
        names = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
        if download:
            for name in names:
                if _find(self.root, name) is None:
                    download_file(name, self.resources[name], self.mirrors, self.root)
        images_path, labels_path = _locate(self.root, names, type(self).__name__)
        self.data = read_idx(images_path)
        self.targets = read_idx(labels_path)
        _check_pair(self.data, self.targets, images_path, labels_path)
        _check_labels(self.targets, len(self.classes), labels_path)
        images = self.data[:, None].astype(np.float32) / np.float32(255.0)
        super().__init__(images, self.targets.astype(np.int64))


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's file layout with ten kinds of clothing.

    Same arguments and files names as `MNIST`, different mirrors and checksums.

    Example:
        >>> FashionMNIST.classes[:3]
        ['T-shirt/top', 'Trouser', 'Pullover']
    """

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    classes = [
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
    ]


def _find(root: Path, name: str) -> Path | None:
    for candidate in (root / name, root / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _locate(root: Path, names: list[str], owner: str) -> list[Path]:
    found = [_find(root, name) for name in names]
    missing = [str(root / name) for name, path in zip(names, found, strict=False) if path is None]
    if missing:
        raise FileNotFoundError(
            f"{owner}: missing {', '.join(missing)}. Pass download=True to fetch them "
            f"(checksum-verified), or copy the published files into {root}."
        )
    return found


def _check_pair(images: np.ndarray, labels: np.ndarray, images_path, labels_path) -> None:
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"MNIST: {images_path} (shape {images.shape}) and {labels_path} (shape "
            f"{labels.shape}) do not form a data set: expected (N, H, W) images and N labels."
        )


def _check_labels(labels: np.ndarray, classes: int, path: Path) -> None:
    """Every label in 0..classes-1, or a ValueError naming the file and the first stray one."""
    if labels.dtype.kind not in "iu":
        raise ValueError(f"MNIST: {path} holds {labels.dtype} values; labels are integers")
    bad = (labels < 0) | (labels >= classes)
    if bad.any():
        index = int(np.argmax(bad))
        raise ValueError(
            f"MNIST: {path} holds the label {int(labels[index])} at position {index} "
            f"({int(bad.sum())} label(s) outside 0..{classes - 1}); the file is damaged or "
            "not an MNIST labels file: download it again"
        )


def load_mnist_arrays(
    root: str | os.PathLike, train: bool = False, flatten: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-format files in `root` as plain NumPy arrays, for benchmarks and scripts.

    Args:
        root: Folder with the published files.
        train: The 60,000 training files; the default reads the 10,000 t10k
            files (the ones the project keeps in shared/data/mnist for
            benchmarks: e.g. the first 8,000 to train, the last 2,000 to test).
        flatten: Return images as (N, 784) instead of (N, 1, 28, 28).

    Returns:
        `(images, labels)`: float32 in [0, 1] and int64.

    Example:
        >>> import tempfile
        >>> load_mnist_arrays(tempfile.mkdtemp())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        FileNotFoundError: load_mnist_arrays: missing ...
    """
    prefix = "train" if train else "t10k"
    names = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
    images_path, labels_path = _locate(Path(root).expanduser(), names, "load_mnist_arrays")
    raw_images, raw_labels = read_idx(images_path), read_idx(labels_path)
    _check_pair(raw_images, raw_labels, images_path, labels_path)
    _check_labels(raw_labels, 10, labels_path)
    images = raw_images.astype(np.float32) / np.float32(255.0)
    shape = (len(images), -1) if flatten else (len(images), 1, *images.shape[1:])
    return images.reshape(shape), raw_labels.astype(np.int64)
