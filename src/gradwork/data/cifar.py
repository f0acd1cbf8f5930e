"""CIFAR-10 from its binary distribution (`cifar-10-batches-bin`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gradwork.data.dataset import TensorDataset

_RECORD = 1 + 3 * 32 * 32  # one label byte, then 1024 red, 1024 green, 1024 blue bytes


def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch file as `(images uint8 (N, 3, 32, 32), labels uint8 (N,))`.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "test_batch.bin"
        >>> _ = path.write_bytes(bytes([7]) + bytes(3072))
        >>> images, labels = read_cifar_batch(path)
        >>> images.shape, labels.tolist()
        ((1, 3, 32, 32), [7])
    """
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % _RECORD:
        raise ValueError(
            f"CIFAR10: {path} has {raw.size} bytes, not a positive multiple of the record size "
            f"{_RECORD} (1 label byte + 3072 pixel bytes); the file is truncated or not a "
            f"CIFAR-10 binary batch."
        )
    records = raw.reshape(-1, _RECORD)
    labels = records[:, 0].copy()
    if labels.max() > 9:
        raise ValueError(f"CIFAR10: {path} has label {labels.max()}; CIFAR-10 labels are 0..9")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


class CIFAR10(TensorDataset):
    """CIFAR-10 read from the binary version's batch files.

    Args:
        root: The `cifar-10-batches-bin` folder, or a folder that contains it.
        train: `data_batch_1.bin` .. `data_batch_5.bin` (50,000 images), else
            `test_batch.bin` (10,000).

    Items are float32 images (3, 32, 32) in [0, 1] and int64 labels.

    Example:
        >>> import tempfile
        >>> CIFAR10(tempfile.mkdtemp(), train=False)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        FileNotFoundError: CIFAR10: missing ...
    """

    classes = [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]

    def __init__(self, root: str | os.PathLike, train: bool = True) -> None:
        root = Path(root).expanduser()
        folder = root / "cifar-10-batches-bin" if (root / "cifar-10-batches-bin").is_dir() else root
        names = [f"data_batch_{i}.bin" for i in range(1, 6)] if train else ["test_batch.bin"]
        missing = [str(folder / name) for name in names if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(
                f"CIFAR10: missing {', '.join(missing)}. Download and unpack the binary version "
                f"(cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html) "
                f"into {root}."
            )
        batches = [read_cifar_batch(folder / name) for name in names]
        self.data = np.concatenate([images for images, _ in batches])
        self.targets = np.concatenate([labels for _, labels in batches])
        images = self.data.astype(np.float32) / np.float32(255.0)
        super().__init__(images, self.targets.astype(np.int64))
