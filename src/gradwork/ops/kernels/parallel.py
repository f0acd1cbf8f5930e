"""Run a kernel's independent slices on several threads: NumPy's own loops, in parallel.

NumPy releases the GIL inside its loops (copies, ufuncs, reductions on
numeric arrays), so a batch split across Python threads runs on several
cores while torch's kernels do the same through OpenMP. On a 2-core machine
this halves the copies, pooling and elementwise passes around the GEMMs,
which OpenBLAS already spreads over the cores.

The thread count is torch's: `gradwork.set_num_threads(n)` /
`gradwork.get_num_threads()`; it starts at `OMP_NUM_THREADS` when set, else
at the number of cores this process may use. It also sets the BLAS threads.

Example:
    >>> import numpy as np
    >>> out = np.empty(10)
    >>> def square(start, stop):
    ...     np.square(np.arange(start, stop), out=out[start:stop])
    >>> parallel_for(10, square, work=10)
    >>> out[-1]
    np.float64(81.0)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from gradwork.ops.kernels import threads

# Below this many elements of work a slice is not worth a thread: handing a
# task to a worker and waiting for it costs ~20-50 us, the time NumPy takes
# to stream about this many floats.
MIN_WORK_PER_THREAD = 65_536


def _default_threads() -> int:
    configured = os.environ.get("OMP_NUM_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_threads = _default_threads()
_pool: ThreadPoolExecutor | None = None


def _forget_pool_in_child() -> None:
    """A forked child (a DataLoader worker) inherits the pool object but not its threads."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def get_num_threads() -> int:
    """How many threads gradwork's kernels (and its BLAS) use."""
    return _threads


def set_num_threads(count: int) -> None:
    """Use `count` threads in gradwork's kernels and in NumPy's BLAS, as torch.set_num_threads.

    Example:
        >>> import gradwork as gw
        >>> before = gw.get_num_threads()
        >>> gw.set_num_threads(1)
        >>> gw.get_num_threads()
        1
        >>> gw.set_num_threads(before)
    """
    global _threads, _pool
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {count!r}")
    _threads = count
    threads.set_blas_threads(count)
    if _pool is not None:
        _pool.shutdown(wait=True)
        _pool = None


def parallel_for(count: int, body: Callable[[int, int], None], work: int) -> None:
    """Call body(start, stop) on slices that cover range(count), on up to get_num_threads() threads.

    `work` is the total number of elements the calls touch; small jobs stay
    on the calling thread. The slices must be independent (each writes only
    its own part of the output). The caller's thread runs the first slice.
    """
    global _pool
    workers = min(_threads, count, max(1, work // MIN_WORK_PER_THREAD))
    if workers <= 1:
        body(0, count)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(_threads - 1, thread_name_prefix="gradwork-kernel")
    bounds = [count * k // workers for k in range(workers + 1)]
    pending = [_pool.submit(body, lo, hi) for lo, hi in zip(bounds[1:-1], bounds[2:], strict=False)]
    body(bounds[0], bounds[1])
    for task in pending:
        task.result()  # re-raises a worker's exception here
