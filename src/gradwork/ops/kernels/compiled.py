"""How the compiled CPU kernels (`cpu_numba*.py`, the `gradwork[fast]` extra) are built and run.

NumPy runs an expression like Adam's update as one pass over memory per
operator (eight for Adam); a loop compiled by Numba does the whole
expression per element in one pass, so the arrays stream through the cache
once (measured, 1 thread, float32: Adam on 235k parameters 0.49 -> 0.15 ms,
on 20M 91 -> 15 ms, bit-identical). This module holds the three rules every
compiled kernel follows:

- `jit`: compiled ahead of the first call per dtype, cached on disk next to
  the module (a new process loads it in milliseconds), with the GIL released.
- `threaded(size)`: whether a loop runs its `numba.prange` form over threads.
  A parallel region costs ~2 us to start with the OpenMP layer (~120 us with
  Numba's own "workqueue" layer, which is why OpenMP is asked for), so only
  arrays of PARALLEL_MIN elements or more are split. The thread count
  follows `gradwork.set_num_threads` (threads.py), the same as BLAS's.
- Threads are never started in a forked child (GNU OpenMP cannot run in a
  child forked after its threads started: a DataLoader worker would hang),
  nor from two Python threads at once (a lock; the loser runs on one thread).

The kernels write their loop once, as the math for one element or row, and
run it either with `range` or `numba.prange`; where `prange` is a plain
`range` (one thread) the arithmetic is the same, so results do not depend on
the thread count.

Example:
    >>> import numpy as np
    >>> double = jit(lambda a: a * 2, cache=False)  # (a doctest has no file to cache beside)
    >>> double(np.arange(3.0)).tolist()
    [0.0, 2.0, 4.0]
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import numba

from gradwork.ops.kernels import threads

PARALLEL_MIN = 1 << 15  # elements; below this one thread wins (measured: 262k floats 43 -> 28 us)

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "omp"  # see above; "workqueue" when OpenMP is missing

_launch = threading.Lock()
_forked = False


def _mark_forked() -> None:
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_mark_forked)


def jit(function=None, **options):
    """numba.njit with the kernels' options: cached on disk, GIL released, bounds unchecked.

    `parallel=True` compiles `numba.prange` loops to run over threads.
    """
    settings = {"cache": True, "nogil": True, "boundscheck": False, **options}
    if function is None:
        return numba.njit(**settings)
    return numba.njit(**settings)(function)


@contextlib.contextmanager
def threads_for(size: int) -> Iterator[bool]:
    """Inside the block, True when a loop over `size` elements should run on threads.

    Holding the launch lock for the block keeps parallel regions from two
    Python threads apart; numba's thread count is set to gradwork's first.

    Example:
        >>> with threads_for(10) as threaded:
        ...     threaded
        False
    """
    count = threads.get_num_threads()
    if size < PARALLEL_MIN or count < 2 or _forked or not _launch.acquire(blocking=False):
        yield False
        return
    try:
        numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
        yield True
    finally:
        _launch.release()
