"""`DistributedDataParallel`: one model per process, gradients averaged over MPI."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from gradwork import distributed as dist
from gradwork.autograd import is_grad_enabled
from gradwork.nn.module import Module
from gradwork.nn.parallel._reducer import Reducer


class DistributedDataParallel(Module):
    """Train one copy of `module` per process; each backward averages the gradients.

    At construction rank 0's parameters and buffers are copied to every rank.
    Each forward (with gradients on) prepares the next backward: as backward
    produces a parameter's whole gradient, a hook writes it into a bucket, and
    a full bucket starts its all-reduce while backward goes on with the layers
    below. When the last gradient is in, every parameter's `.grad` holds the
    mean over ranks, so `optimizer.step()` keeps the copies identical. Ranks
    must take the same number of steps (`DistributedSampler` sees to it).

    Buffers (BatchNorm's running statistics) are rank 0's: broadcast before each
    training forward, as torch's `broadcast_buffers=True`, and once more before
    an eval forward that follows training, so evaluation agrees on every rank.
    For batch statistics over all ranks, convert the model with
    `SyncBatchNorm.convert_sync_batchnorm`. A parameter no rank used keeps no
    gradient; one used on some ranks gets their average (torch's
    `find_unused_parameters=True`, found from the graph at no extra cost).

    Args:
        module: the model, the same architecture on every rank.
        broadcast_buffers: keep every rank's buffers equal to rank 0's.
        bucket_cap_mb: the size of a gradient bucket (the first is at most 1 MB).
        device_ids, output_device, dim, process_group, find_unused_parameters,
            check_reduction, gradient_as_bucket_view, static_graph: accepted for
            torch's signature (one CPU device, one group, unused parameters always found).

    Example (in each of the processes `mpiexec -n 2` starts)::

        dist.init_process_group(backend="mpi")
        model = DistributedDataParallel(Net())
        loss_fn(model(x), y).backward()     # gradients averaged over both ranks
        optimizer.step()
        with model.no_sync():               # gradient accumulation: no communication
            loss_fn(model(x2), y2).backward()
    """

    def __init__(
        self,
        module: Module,
        device_ids: Any = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group: Any = None,
        bucket_cap_mb: float | None = None,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
    ) -> None:
        super().__init__()
        if not dist.is_initialized():
            raise RuntimeError(
                "DistributedDataParallel: the default process group has not been initialized; "
                "call gradwork.distributed.init_process_group(backend='mpi') first (and start "
                "the processes with `mpiexec -n N`)"
            )
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.require_backward_grad_sync = True
        self._buffers_stale = False
        params = [p for p in _unique(module.parameters()) if p.requires_grad]
        cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 2**20)
        _broadcast_coalesced([p.array for p in _unique(module.parameters())])
        _broadcast_coalesced(_buffer_arrays(module))
        object.__setattr__(self, "reducer", Reducer(params, cap))

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self.broadcast_buffers and (self.training or self._buffers_stale):
            _broadcast_coalesced(_buffer_arrays(self.module))
        self._buffers_stale = self.training and self.broadcast_buffers
        output = self.module(*inputs, **kwargs)
        if is_grad_enabled() and self.require_backward_grad_sync:
            self.reducer.prepare(list(_tensors_in(output)))
        else:
            self.reducer.armed = False
        return output

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes of forwards run inside keep their gradients local (accumulate).

        The first forward and backward after the block all-reduce the sum.
        """
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def extra_repr(self) -> str:
        return f"world_size={dist.get_world_size()}, buckets={len(self.reducer.buckets)}"


def _unique(tensors: Iterator) -> list:
    seen, unique = set(), []
    for tensor in tensors:
        if id(tensor) not in seen:
            seen.add(id(tensor))
            unique.append(tensor)
    return unique


def _buffer_arrays(module: Module) -> list[np.ndarray]:
    return [b.array for b in _unique(module.buffers()) if b is not None]


def _broadcast_coalesced(arrays: list[np.ndarray], src: int = 0) -> None:
    """Broadcast many arrays with one collective per dtype (not one per array)."""
    by_dtype: dict[np.dtype, list[np.ndarray]] = {}
    for array in arrays:
        by_dtype.setdefault(array.dtype, []).append(array)
    for dtype in sorted(by_dtype, key=str):  # NOTE: the same order on every rank
        group = by_dtype[dtype]
        flat = np.concatenate([a.reshape(-1) for a in group]) if group else np.empty(0, dtype)
        dist.broadcast(flat, src)
        offset = 0
        for array in group:
            array[...] = flat[offset : offset + array.size].reshape(array.shape)
            offset += array.size


def _tensors_in(output: Any) -> Iterator[Any]:
    """The tensors in a forward's output (a tensor, or tuples, lists, dicts of them)."""
    if hasattr(output, "grad_fn"):
        yield output
    elif isinstance(output, tuple | list):
        for item in output:
            yield from _tensors_in(item)
    elif isinstance(output, dict):
        for item in output.values():
            yield from _tensors_in(item)
