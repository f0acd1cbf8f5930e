"""BLAS threads, the one place in the package that sets them.

`gradwork.set_num_threads(n)` / `get_num_threads()` are torch's: they set how
many threads NumPy's bundled OpenBLAS uses for gradwork's matrix products
(the count starts at `OMP_NUM_THREADS` when set, else at the cores this
process may use). `single_threaded_blas()` runs a block of small products on
one thread: small GEMMs in a loop (a recurrence's per-step product, a
Gaussian process's Cholesky solves on a few dozen points) wait at every
call for the second BLAS thread's core. On an idle 2-core machine a second
thread made the suite's LSTM recurrence 18% faster (12.3 against 15.0 ms),
but on a shared one (load average 4) GEMMs ran 3x slower on two threads
than on one, and the GP 2x: one thread is the robust choice.

It talks to the OpenBLAS builds bundled with NumPy (and SciPy, when
installed) through their own `*_set_num_threads` functions, so it needs no
dependency (threadpoolctl would do the same through one; the core depends on
NumPy only).
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


def _default_threads() -> int:
    configured = os.environ.get("OMP_NUM_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_threads = _default_threads()


def get_num_threads() -> int:
    """How many threads gradwork's matrix products use (torch.get_num_threads)."""
    return _threads


def set_num_threads(count: int) -> None:
    """Use `count` threads for gradwork's matrix products (NumPy's BLAS), as torch.set_num_threads.

    Example:
        >>> import gradwork as gw
        >>> before = gw.get_num_threads()
        >>> gw.set_num_threads(1)
        >>> gw.get_num_threads()
        1
        >>> gw.set_num_threads(before)
    """
    global _threads
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {count!r}")
    _threads = count
    set_blas_threads(count)


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


def _blas_controls() -> list:
    """The (get, set) pairs, found on first use."""
    global _controls
    if _controls is None:
        _controls = _find_controls()
    return _controls


def set_blas_threads(count: int) -> None:
    """Every bundled OpenBLAS uses `count` threads from now on."""
    for _, set_ in _blas_controls():
        set_(count)


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Inside the block, every bundled OpenBLAS uses one thread; the counts come back after.

    Example:
        >>> with single_threaded_blas():
        ...     _ = np.ones((4, 4)) @ np.ones((4, 4))
    """
    controls = _blas_controls()
    previous = [get() for get, _ in controls]
    set_blas_threads(1)
    try:
        yield
    finally:
        for (_, set_), count in zip(controls, previous, strict=False):
            set_(count)
