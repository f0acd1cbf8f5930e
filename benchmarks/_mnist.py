"""The benchmark data set: the real MNIST test set from shared/data/mnist.

First 8,000 images train, last 2,000 test (shared/data/README.md), read with
gradwork.data's IDX reader.

Where the data lives: `$GRADWORK_MNIST_DIR` if set, else `shared/data/mnist`
next to the repository root (`/work/main` -> `/work/shared`) or one level
further up (a worktree such as `/work/wt/perf` -> `/work/shared`).
"""

from __future__ import annotations

import os
from pathlib import Path

from gradwork.data import load_mnist_arrays

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


def load(directory: Path | None = None):
    """(x_train, y_train, x_test, y_test): images float32 in [0, 1] as (N, 1, 28, 28)."""
    directory = find_directory() if directory is None else Path(directory)
    x, y = load_mnist_arrays(directory)  # float32 (10000, 1, 28, 28) in [0, 1], int64
    return x[:8000], y[:8000], x[8000:], y[8000:]
