"""How the compiled CPU kernels (`cpu_numba*.py`, the `gradwork[fast]` extra) are built and run.

NumPy runs an expression like Adam's update as one pass over memory per
operator (eight for Adam); a loop compiled by Numba does the whole
expression per element in one pass, so the arrays stream through the cache
once (measured, 1 thread, float32: Adam on 235k parameters 0.49 -> 0.15 ms,
on 20M 91 -> 15 ms, bit-identical). This module holds the three rules every
compiled kernel follows:

- `jit`: compiled ahead of the first call per dtype, cached on disk next to
  the module (a new process loads it in milliseconds), with the GIL released.
- `threads_for(size)`: whether a kernel runs its `numba.prange` form, and on
  how many threads. The prange form is the fast one even on one thread:
  Numba tells LLVM that a parallel loop's iterations are independent, so it
  vectorises it, while the same loop over `range` runs an element at a time
  (measured, Adam over 131k float32: 74 us as prange on 1 thread, 600 us as
  range). A parallel region costs ~2 us to start with the OpenMP layer (~120
  us with Numba's own "workqueue" layer, which is why OpenMP is asked for),
  so arrays under PARALLEL_MIN elements run on one thread. The thread count
  otherwise follows `gradwork.set_num_threads` (threads.py), as BLAS's does.
- The prange form never runs in a forked child (GNU OpenMP aborts a child
  forked after its threads started: a DataLoader worker would die) nor from
  two Python threads at once (a lock: Numba's other layers are not
  thread-safe); there the `range` form runs instead: the same arithmetic,
  slower.

The kernels write their loop once, as the math for one element or row, and
run it with `numba.prange` or `range`; a prange loop over independent
elements computes the same values on any number of threads, so results do
not depend on the thread count.

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


_set_count = threading.local()  # numba's thread count is per Python thread: set it on change


@contextlib.contextmanager
def threads_for(size: int) -> Iterator[bool]:
    """Inside the block, True when a loop over `size` elements may run its prange form.

    Numba's thread count is set first: gradwork's (set_num_threads) for
    PARALLEL_MIN elements or more, else one. False in a forked child and
    while another Python thread is inside a block (see the module's notes).

    Example:
        >>> with threads_for(10) as parallel:
        ...     parallel
        True
    """
    if _forked or not _launch.acquire(blocking=False):
        yield False
        return
    try:
        count = threads.get_num_threads() if size >= PARALLEL_MIN else 1
        count = min(count, numba.config.NUMBA_NUM_THREADS)
        if getattr(_set_count, "value", None) != count:
            numba.set_num_threads(count)
            _set_count.value = count
        yield True
    finally:
        _launch.release()


def thread_count() -> int:
    """The threads Numba's next parallel loop in this Python thread would use."""
    return numba.get_num_threads()
