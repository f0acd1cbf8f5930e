"""Collectives on Tensors and NumPy arrays, through mpi4py's buffer API (no pickling).

Each call starts MPI's nonblocking form of the collective and polls it, so a
rank whose peers failed or hang raises after the group's timeout instead of
waiting forever. Results are written in place, as torch's are.
"""

from __future__ import annotations

import enum
import os
import time
from typing import Any

import numpy as np

from gradwork.distributed._group import current


class ReduceOp(enum.Enum):
    """How `all_reduce` combines the ranks' values (AVG, also spelled MEAN: the sum / N)."""

    SUM = "sum"
    AVG = "avg"
    MEAN = "avg"  # an alias of AVG
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


class Work:
    """A collective in flight (`async_op=True`): `wait()` finishes it, `is_completed()` asks.

    `after` runs once the data has arrived (averaging, copying back to the tensor).
    """

    def __init__(self, request: Any, what: str, after: Any = None) -> None:
        self.request, self.what, self._after = request, what, after
        self._done = False

    def is_completed(self) -> bool:
        if not self._done and self.request.Test():
            self._finish()
        return self._done

    def wait(self, timeout: Any = None) -> bool:
        if not self._done:
            limit = current().timeout if timeout is None else timeout.total_seconds()
            wait_for(self.request, self.what, limit)
            self._finish()
        return True

    def _finish(self) -> None:
        self._done = True
        if self._after is not None:
            self._after()


# Poll without pausing for this long (latency), then yield the core between polls (other
# processes first: the machine may run more ranks than cores), and after a second (a
# peer that slow is failing or far behind) sleep a millisecond between polls.
SPIN_SECONDS, YIELD_SECONDS = 0.002, 1.0
_yield = getattr(os, "sched_yield", lambda: time.sleep(0))  # NOTE: no sched_yield on Windows


def wait_for(request: Any, what: str, timeout: float | None = None) -> None:
    """Poll `request` until it completes; RuntimeError after `timeout` seconds."""
    if request.Test():
        return
    group = current()
    limit = group.timeout if timeout is None else timeout
    start = time.monotonic()
    while not request.Test():
        waited = time.monotonic() - start
        if waited > limit:
            raise RuntimeError(
                f"gradwork.distributed: {what} on rank {group.rank} of {group.size} timed out "
                f"after {limit:g} s waiting for the other ranks: one of them has probably "
                f"failed or is stuck (see its error above). Every rank must call the same "
                f"collectives in the same order. Raise the limit with init_process_group("
                f"timeout=timedelta(...)) or GRADWORK_DISTRIBUTED_TIMEOUT if a step is that slow."
            )
        if waited > YIELD_SECONDS:
            time.sleep(0.001)
        elif waited > SPIN_SECONDS:
            _yield()


def as_buffer(tensor: Any, name: str) -> np.ndarray:
    """The array behind a Tensor or an ndarray (the object every collective writes into)."""
    array = getattr(tensor, "array", tensor)
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"gradwork.distributed.{name}: expected a Tensor or a NumPy array, got "
            f"{type(tensor).__name__}"
        )
    return array


def _wire(array: np.ndarray) -> np.ndarray:
    """A contiguous array MPI can reduce: float16 and bool travel as float32 / uint8."""
    if array.dtype == np.float16:
        return array.astype(np.float32)
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    return np.ascontiguousarray(array)


def _bump_version(tensor: Any) -> None:
    counter = getattr(tensor, "_version_counter", None)
    if counter is not None:
        counter.value += 1  # written in place, as torch's collectives do


def _mpi_op(op: Any) -> Any:
    mpi = current().mpi
    if not isinstance(op, ReduceOp):
        try:
            op = ReduceOp[str(op).rsplit(".", 1)[-1].upper()]
        except KeyError:
            raise ValueError(
                f"gradwork.distributed.all_reduce: unknown op {op!r}; use ReduceOp.SUM, AVG "
                f"(MEAN), PRODUCT, MIN or MAX"
            ) from None
    table = {"sum": mpi.SUM, "avg": mpi.SUM, "product": mpi.PROD, "min": mpi.MIN, "max": mpi.MAX}
    return table[op.value], op is ReduceOp.AVG


def all_reduce(
    tensor: Any, op: ReduceOp = ReduceOp.SUM, group: Any = None, async_op: bool = False
) -> Work | None:
    """Combine `tensor` over all ranks with `op`; every rank gets the result, in place.

    Args:
        tensor: a Tensor or NumPy array, the same shape and dtype on every rank.
        op: `ReduceOp.SUM`, `AVG` (`MEAN`), `PRODUCT`, `MIN` or `MAX`.
        async_op: return a `Work` to `wait()` on instead of waiting here.
    """
    array = as_buffer(tensor, "all_reduce")
    mpi_op, average = _mpi_op(op)
    group_now = current()
    wire = _wire(array)
    request = group_now.comm.Iallreduce(group_now.mpi.IN_PLACE, wire, op=mpi_op)

    def after() -> None:
        result = wire / group_now.size if average else wire
        if result is not array:
            array[...] = result
        _bump_version(tensor)

    return _finish(Work(request, "all_reduce", after), async_op)


def broadcast(tensor: Any, src: int = 0, group: Any = None, async_op: bool = False) -> Work | None:
    """Copy rank `src`'s `tensor` into `tensor` on every other rank."""
    array = as_buffer(tensor, "broadcast")
    group_now = current()
    _check_rank(src, group_now.size, "broadcast", "src")
    wire = _wire(array)
    request = group_now.comm.Ibcast(wire, root=src)

    def after() -> None:
        if wire is not array:
            array[...] = wire
        _bump_version(tensor)

    return _finish(Work(request, "broadcast", after), async_op)


def all_gather(
    tensor_list: list, tensor: Any, group: Any = None, async_op: bool = False
) -> Work | None:
    """Fill `tensor_list` (one entry per rank) with every rank's `tensor`, in rank order."""
    array = as_buffer(tensor, "all_gather")
    group_now = current()
    if len(tensor_list) != group_now.size:
        raise ValueError(
            f"gradwork.distributed.all_gather: tensor_list has {len(tensor_list)} entries; it "
            f"needs one per rank ({group_now.size}), each shaped like the input"
        )
    outputs = [as_buffer(t, "all_gather") for t in tensor_list]
    for output in outputs:
        if output.shape != array.shape:
            raise ValueError(
                f"gradwork.distributed.all_gather: an output has shape {output.shape}, the "
                f"input has {array.shape}; every entry must match the input"
            )
    wire = _wire(array)
    gathered = np.empty((group_now.size, *wire.shape), wire.dtype)
    request = group_now.comm.Iallgather(wire, gathered)

    def after() -> None:
        for target, output, part in zip(tensor_list, outputs, gathered, strict=True):
            output[...] = part
            _bump_version(target)

    return _finish(Work(request, "all_gather", after), async_op)


def all_gather_into_tensor(
    output_tensor: Any, input_tensor: Any, group: Any = None, async_op: bool = False
) -> Work | None:
    """Every rank's `input_tensor`, concatenated along dim 0 into `output_tensor`."""
    output = as_buffer(output_tensor, "all_gather_into_tensor")
    shape = as_buffer(input_tensor, "all_gather_into_tensor").shape
    parts = list(np.zeros((current().size, *shape), output.dtype))
    work = all_gather(parts, input_tensor, async_op=True)

    def after() -> None:
        output[...] = np.concatenate(parts).reshape(output.shape)
        _bump_version(output_tensor)

    work._after = _chain(work._after, after)
    return _finish(work, async_op)


def barrier(group: Any = None, async_op: bool = False) -> Work | None:
    """Wait until every rank has reached this call."""
    request = current().comm.Ibarrier()
    return _finish(Work(request, "barrier"), async_op)


def _chain(first: Any, second: Any) -> Any:
    def both() -> None:
        first()
        second()

    return both


def _finish(work: Work, async_op: bool) -> Work | None:
    if async_op:
        return work
    work.wait()
    return None


def _check_rank(rank: int, size: int, name: str, argument: str) -> None:
    if not 0 <= rank < size:
        raise ValueError(
            f"gradwork.distributed.{name}: {argument}={rank} is not a rank of this group "
            f"(ranks are 0 .. {size - 1})"
        )
