"""Gradient buckets for DistributedDataParallel: all-reduced as backward produces them.

The engine calls a parameter's hook once per gradient contribution (a weight
used twice gets two). `prepare` counts, on the graph the forward just built,
how many contributions each parameter will receive; the hook that brings a
parameter's last one writes the parameter's whole gradient (with what earlier
contributions and `no_sync` steps left in `.grad`) into its bucket, and a
bucket whose parameters are all in starts its all-reduce at once, while
backward goes on with the layers below. Buckets start in a fixed order (MPI
matches collectives by order), and the hook of the very last contribution
waits for all of them and hands every parameter the average.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from gradwork import distributed as dist
from gradwork.tensor import Tensor

FIRST_BUCKET_BYTES = 1 << 20  # torch's: a small first bucket starts communication early


class _Bucket:
    """One flat buffer holding the gradients of a few parameters of one dtype."""

    def __init__(self, indices: list[int], params: list, dtype: np.dtype) -> None:
        self.indices = indices
        sizes = [params[i].array.size for i in indices]
        self.buffer = np.zeros(sum(sizes), dtype)
        offsets = np.cumsum([0, *sizes])
        self.views = {i: self.buffer[offsets[k] : offsets[k + 1]].reshape(params[i].array.shape)
                      for k, i in enumerate(indices)}  # fmt: skip
        self.pending = 0
        self.work: Any = None


def make_buckets(params: list, cap_bytes: int) -> list[_Bucket]:
    """Parameters in reverse order (the order backward reaches them), cut by dtype and size."""
    buckets, current, size, dtype = [], [], 0, None
    limit = min(cap_bytes, FIRST_BUCKET_BYTES)
    for index in reversed(range(len(params))):
        array = params[index].array
        if current and (array.dtype != dtype or size + array.nbytes > limit):
            buckets.append(_Bucket(current, params, dtype))
            current, size, limit = [], 0, cap_bytes
        current.append(index)
        size, dtype = size + array.nbytes, array.dtype
    if current:
        buckets.append(_Bucket(current, params, dtype))
    return buckets


class Reducer:
    """The per-iteration state: contributions still expected, buckets ready and in flight."""

    def __init__(self, params: list, cap_bytes: int) -> None:
        self.params = params
        self.position = {id(p): i for i, p in enumerate(params)}
        self.buckets = make_buckets(params, cap_bytes)
        self.bucket_of = {i: b for b in self.buckets for i in b.indices}
        self.expected = [0] * len(params)
        self.armed = self.started = False
        self.remaining = 0
        self.next_bucket = 0
        self.handles = [p.register_hook(self._hook_for(i)) for i, p in enumerate(params)]
        # Measurements for benchmarks: bytes all-reduced and seconds inside MPI calls.
        self.bytes_reduced = 0
        self.communication_seconds = 0.0
        self.wait_seconds = 0.0

    # ------------------------------------------------------------ each forward
    def prepare(self, outputs: list) -> None:
        """Count the gradient contributions each parameter will get from `outputs`' graph."""
        if self.started:
            self.started = False
            raise RuntimeError(
                "DistributedDataParallel: Expected to have finished reduction in the prior "
                "iteration before starting a new one. The last backward did not produce a "
                "gradient for every edge the forward made to a parameter (a backward returned "
                "None), so gradients were not averaged; check the model's custom Functions."
            )
        self.expected = _count_parameter_edges(outputs, self.position, len(self.params))
        self.remaining = len(self.params)
        for bucket in self.buckets:
            bucket.pending, bucket.work = len(bucket.indices), None
        self.next_bucket = 0
        self.armed = True

    # ------------------------------------------------------------ each backward
    def _hook_for(self, index: int) -> Any:
        def hook(grad: Any) -> Any:
            if not self.armed:
                return None  # no_sync, eval, or a graph DDP's forward did not make
            return self._on_gradient(index, grad.array)

        return hook

    def _on_gradient(self, index: int, grad: np.ndarray) -> Any:
        if not self.started:
            self.started = True
            for unused in [i for i, n in enumerate(self.expected) if n == 0]:
                self._mark_ready(unused, None)
        self.expected[index] -= 1
        if self.expected[index] > 0:
            return None  # more contributions to come: the engine adds this one to .grad
        if self.expected[index] < 0:
            self.armed = self.started = False
            raise RuntimeError(
                f"DistributedDataParallel: parameter {index} received more gradients than the "
                f"forward gave it: it is also used outside DistributedDataParallel's forward "
                f"(a penalty on the weights, a second forward before backward). Compute "
                f"everything that touches the parameters inside one forward of the wrapped model."
            )
        total = self._mark_ready(index, grad)
        if self.remaining == 0:
            return self._finish(index)
        return total  # the engine stores it in .grad; _finish overwrites it with the average

    def _mark_ready(self, index: int, grad: np.ndarray | None) -> np.ndarray:
        param = self.params[index]
        bucket = self.bucket_of[index]
        view = bucket.views[index]
        if param.grad is None:
            view[...] = 0 if grad is None else grad
        else:
            np.add(param.grad.array, 0 if grad is None else grad, out=view, casting="unsafe")
            if grad is not None:
                param.grad = None  # the engine puts the total back (see _on_gradient)
        self.remaining -= 1
        bucket.pending -= 1
        if bucket.pending == 0:
            self._launch_ready()
        elif self.next_bucket:
            self._progress()
        return view

    def _launch_ready(self) -> None:
        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].pending == 0:
            bucket = self.buckets[self.next_bucket]
            start = time.perf_counter()
            bucket.work = dist.all_reduce(bucket.buffer, dist.ReduceOp.SUM, async_op=True)
            self.communication_seconds += time.perf_counter() - start
            self.bytes_reduced += bucket.buffer.nbytes
            self.next_bucket += 1
        self._progress()

    def _progress(self) -> None:
        # NOTE: MPI moves a nonblocking collective on only inside MPI calls; asking keeps
        # it going while backward computes the next layers.
        start = time.perf_counter()
        for bucket in self.buckets[: self.next_bucket]:
            bucket.work.is_completed()
        self.communication_seconds += time.perf_counter() - start

    def _finish(self, last: int) -> np.ndarray:
        """Wait for every bucket, average, give each parameter its gradient."""
        start = time.perf_counter()
        for bucket in self.buckets:
            bucket.work.wait()
        waited = time.perf_counter() - start
        self.wait_seconds += waited
        self.communication_seconds += waited
        world = dist.get_world_size()
        for bucket in self.buckets:
            bucket.buffer /= world
        self.armed = self.started = False
        for index, param in enumerate(self.params):
            if index == last:
                continue
            average = self.bucket_of[index].views[index]
            if param.grad is not None:
                param.grad.array[...] = average
            elif average.any():  # unused here, used on another rank
                param.grad = Tensor(average.copy())
        return self.bucket_of[last].views[last]

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def _count_parameter_edges(outputs: list, position: dict, count: int) -> list[int]:
    """How many graph edges lead from `outputs` to each parameter (by its index)."""
    expected = [0] * count
    seen: set[int] = set()
    stack = [t.grad_fn for t in outputs if getattr(t, "grad_fn", None) is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen or node.inputs is None:
            continue
        seen.add(id(node))
        for tensor, parent, needed in zip(
            node.inputs, node.parents, node.needs_input_grad, strict=False
        ):
            if parent is not None:
                stack.append(parent)
            elif needed:
                index = position.get(id(tensor))
                if index is not None:
                    expected[index] += 1
    return expected
