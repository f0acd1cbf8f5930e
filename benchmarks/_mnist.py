"""The benchmark data set: the real MNIST test set from ../shared/data/mnist.

First 8,000 images train, last 2,000 test (shared/data/README.md). Reads the
IDX files with a few lines of NumPy so the benchmarks depend on nothing else.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

MNIST_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist"


def _read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    rank = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(shape)


def load(directory: Path = MNIST_DIR):
    """(x_train, y_train, x_test, y_test): images float32 in [0, 1] as (N, 1, 28, 28)."""
    images = directory / "t10k-images-idx3-ubyte.gz"
    labels = directory / "t10k-labels-idx1-ubyte.gz"
    if not images.exists():
        raise SystemExit(f"benchmark data not found: {images} (see shared/data/README.md)")
    x = (_read_idx(images).astype(np.float32) / 255.0)[:, None, :, :]
    y = _read_idx(labels).astype(np.int64)
    return x[:8000], y[:8000], x[8000:], y[8000:]
