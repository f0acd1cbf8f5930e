"""BLAS thread control, the one place in the package that sets it.

Run a block of small matrix products on one BLAS thread.

Small GEMMs in a loop (a recurrence's per-step product, a Gaussian process's
Cholesky solves on a few dozen points) lose more to waking a second BLAS
thread than they gain from it: on a 2-core machine an LSTM step ran 5-10x
slower, the GP 2x. This is the one place that switch lives. It talks to the
OpenBLAS builds bundled with NumPy (and SciPy, when installed) through their
own `*_set_num_threads` functions, so it needs no extra dependency and costs
two foreign calls per block.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
from collections.abc import Iterator

import numpy as np

_SYMBOLS = (
    "scipy_openblas_{}_num_threads64_",
    "scipy_openblas_{}_num_threads",
    "openblas_{}_num_threads64_",
    "openblas_{}_num_threads",
)
_controls: list | None = None  # (get, set) pairs, one per OpenBLAS found; found lazily


def _find_controls() -> list:
    """The (get, set) thread-count functions of every bundled OpenBLAS found."""
    site = os.path.join(os.path.dirname(np.__file__), os.pardir)
    found = []
    for folder in ("numpy.libs", "scipy.libs"):
        for path in sorted(glob.glob(os.path.join(site, folder, "*openblas*"))):
            try:
                library = ctypes.CDLL(path)
            except OSError:
                continue
            for pattern in _SYMBOLS:
                get = getattr(library, pattern.format("get"), None)
                set_ = getattr(library, pattern.format("set"), None)
                if get is not None and set_ is not None:
                    found.append((get, set_))
                    break
    return found


def set_blas_threads(count: int) -> None:
    """Every bundled OpenBLAS uses `count` threads from now on."""
    global _controls
    if _controls is None:
        _controls = _find_controls()
    for _, set_ in _controls:
        set_(count)


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Inside the block, every bundled OpenBLAS uses one thread; the counts come back after.

    Example:
        >>> with single_threaded_blas():
        ...     _ = np.ones((4, 4)) @ np.ones((4, 4))
    """
    global _controls
    if _controls is None:
        _controls = _find_controls()
    previous = [get() for get, _ in _controls]
    for _, set_ in _controls:
        set_(1)
    try:
        yield
    finally:
        for (_, set_), count in zip(_controls, previous, strict=False):
            set_(count)
