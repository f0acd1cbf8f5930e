"""How the compiled CPU kernels (`cpu_numba*.py`, the `gradwork[fast]` extra) are built and run.

NumPy runs an expression like Adam's update as one pass over memory per
operator (eight for Adam); a loop compiled by Numba does the whole
expression per element in one pass, so the arrays stream through the cache
once (measured, 1 thread, float32: Adam on 235k parameters 0.49 -> 0.15 ms,
on 20M 91 -> 15 ms, bit-identical). This module holds the three rules every
compiled kernel follows:

- `jit`: compiled ahead of the first call per dtype, cached on disk next to
  the module (a new process loads it in milliseconds), with the GIL released.
- `prange_allowed()`: whether a kernel may run its `numba.prange` form. That
  form is the fast one even on one thread: Numba tells LLVM a parallel
  loop's iterations are independent, so it vectorises it, while the same loop
  over `range` runs an element at a time (Adam over 131k float32, 1 thread:
  74 us as prange, 600 us as range).
- ONE thread, in a one-thread pool. Numba's OpenMP threads spin after each
  parallel loop on the cores OpenBLAS's threads need (and the other way
  round): the suite's MLP step on 2 threads took 10.0 ms with the compiled
  loops on 2 OpenMP threads against 2.6 ms on one (load average 1.6; with
  OMP_WAIT_POLICY=PASSIVE 2.0 against 2.1: the threads bought nothing). Idle
  pool workers spin too, so the pool itself has one thread
  (NUMBA_NUM_THREADS=1 unless the user set it): with a 2-thread pool, the
  CNN step on 2 BLAS threads took 90-400 ms against 11 ms.
- The prange form never runs in a forked child (GNU OpenMP aborts a child
  forked after its runtime started: a DataLoader worker would die) nor from
  two Python threads at once (a lock: Numba's "workqueue" layer, used when
  OpenMP is missing, is not thread-safe); there the kernel runs its NumPy
  form (or its `range` loop): the same values, slower.

A prange loop over independent elements or rows computes the same values on
any number of threads, so no result depends on how the loops are run.

Example:
    >>> import numpy as np
    >>> double = jit(lambda a: a * 2, cache=False)  # (a doctest has no file to cache beside)
    >>> double(np.arange(3.0)).tolist()
    [0.0, 2.0, 4.0]
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

# A one-thread pool (see above); a value the user set is kept.
_NUMBA_ALREADY_LOADED = "numba" in sys.modules
if "NUMBA_NUM_THREADS" not in os.environ and not _NUMBA_ALREADY_LOADED:
    os.environ["NUMBA_NUM_THREADS"] = "1"

import numba  # noqa: E402

PARALLEL_MIN = 1 << 15  # the size tests use for "large"; one thread either way (see above)

if "NUMBA_THREADING_LAYER" not in os.environ:  # OpenMP: a loop starts in ~2 us, not ~120
    numba.config.THREADING_LAYER = "omp"
if _NUMBA_ALREADY_LOADED and "NUMBA_NUM_THREADS" not in os.environ:
    # Numba was imported first and sized its pool from the cores; it starts the pool
    # at the first parallel loop, from this module-level count (not public API).
    _pool = sys.modules.get("numba.np.ufunc.parallel")
    if _pool is not None and not getattr(_pool, "_is_initialized", True):
        _pool.NUM_THREADS = numba.config.NUMBA_NUM_THREADS = 1

_launch = threading.Lock()
_forked = False


def _mark_forked() -> None:
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_mark_forked)


def jit(function=None, **options):
    """numba.njit with the kernels' options: cached on disk, GIL released, bounds unchecked.

    `parallel=True` compiles `numba.prange` loops as parallel loops (see prange_allowed).
    """
    settings = {"cache": True, "nogil": True, "boundscheck": False, **options}
    if function is None:
        return numba.njit(**settings)
    return numba.njit(**settings)(function)


_one_thread = threading.local()  # numba's thread count is per Python thread


@contextlib.contextmanager
def prange_allowed() -> Iterator[bool]:
    """Inside the block, True when a compiled loop may run its prange form.

    Numba's thread count is one (see the module's notes). False in a forked
    child and while another Python thread is inside a block.

    Example:
        >>> with prange_allowed() as parallel:
        ...     parallel
        True
    """
    if _forked or not _launch.acquire(blocking=False):
        yield False
        return
    try:
        if not getattr(_one_thread, "set", False):
            numba.set_num_threads(1)
            _one_thread.set = True
        yield True
    finally:
        _launch.release()
