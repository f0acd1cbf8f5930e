"""The benchmark data set: the real MNIST test set from shared/data/mnist.

First 8,000 images train, last 2,000 test (shared/data/README.md). Reads the
IDX files with a few lines of NumPy so the benchmarks depend on nothing else.

Where the data lives: `$GRADWORK_MNIST_DIR` if set, else `shared/data/mnist`
next to the repository root (`/work/main` -> `/work/shared`) or one level
further up (a worktree such as `/work/wt/perf` -> `/work/shared`).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parents[1]
_IMAGES = "t10k-images-idx3-ubyte.gz"


def candidates() -> list[Path]:
    """Directories searched for the MNIST files, first match wins."""
    found = [Path(os.environ["GRADWORK_MNIST_DIR"])] if os.environ.get("GRADWORK_MNIST_DIR") else []
    return found + [
        _ROOT.parent / "shared" / "data" / "mnist",
        _ROOT.parent.parent / "shared" / "data" / "mnist",
    ]


def find_directory() -> Path:
    for directory in candidates():
        if (directory / _IMAGES).exists():
            return directory
    searched = ", ".join(str(d) for d in candidates())
    raise SystemExit(
        f"benchmark data not found: {_IMAGES} in none of {searched}; "
        "set GRADWORK_MNIST_DIR to the folder holding the MNIST t10k files "
        "(see shared/data/README.md)"
    )


def _read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    rank = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(shape)


def load(directory: Path | None = None):
    """(x_train, y_train, x_test, y_test): images float32 in [0, 1] as (N, 1, 28, 28)."""
    directory = find_directory() if directory is None else Path(directory)
    images = directory / _IMAGES
    labels = directory / "t10k-labels-idx1-ubyte.gz"
    if not images.exists():
        raise SystemExit(f"benchmark data not found: {images} (see shared/data/README.md)")
    x = (_read_idx(images).astype(np.float32) / 255.0)[:, None, :, :]
    y = _read_idx(labels).astype(np.int64)
    return x[:8000], y[:8000], x[8000:], y[8000:]
