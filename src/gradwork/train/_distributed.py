"""What the Trainer does differently when it runs on several MPI ranks.

Each rank runs the same loop on its shard of the data. Only rank 0 writes (the
run folder, history.csv, checkpoints); the others see the folder read-only.
Epoch logs of sharded data (a loader over a `DistributedSampler`) are reduced
over the ranks, so every rank logs, early-stops and checkpoints on the same
numbers; the stop and Ctrl-C flags are agreed after every batch, so all ranks
leave the loop at the same step. On one process every function here is a no-op.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from gradwork import distributed as dist
from gradwork.data import DistributedSampler
from gradwork.nn.parallel import DistributedDataParallel
from gradwork.train import _state
from gradwork.train.run import RunFolder


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_writer() -> bool:
    """Whether this process writes files: rank 0, or a process on its own."""
    return not dist.is_initialized() or dist.get_rank() == 0


class ReadOnlyRun(RunFolder):
    """A run folder seen from a rank other than 0: read as usual, never written."""

    def __init__(self, path: Any) -> None:
        self.path = Path(path)

    def write_json(self, name: str, value: Any) -> Path:
        return self.path / name  # rank 0 writes the same content


def run_folder(run_dir: Any) -> RunFolder | None:
    if run_dir is None:
        return None
    return RunFolder(run_dir) if is_writer() else ReadOnlyRun(run_dir)


def unwrap(model: Any) -> Any:
    """The model inside DistributedDataParallel: checkpoints hold its plain state_dict."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def set_epoch(loader: Any, epoch: int) -> None:
    """Give a DistributedSampler the epoch (its shuffle), also when resuming mid-epoch."""
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)


def is_sharded(loader: Any) -> bool:
    sampler = getattr(loader, "sampler", None)
    return world_size() > 1 and isinstance(sampler, DistributedSampler)


def agree(stop: bool, interrupt: bool) -> tuple[bool, bool]:
    """(stop, interrupt) as any rank has it: every rank leaves at the same step."""
    if world_size() == 1:
        return stop, interrupt
    flags = np.array([stop, interrupt], np.int64)
    dist.all_reduce(flags, dist.ReduceOp.MAX)
    return bool(flags[0]), bool(flags[1])


def reduced_sums(sums: _state.EpochSums, loader: Any) -> _state.EpochSums:
    """The epoch's loss sums over every rank's shard (a copy; the local sums stay)."""
    if not is_sharded(loader):
        return sums
    keys = sorted(sums.totals)
    vector = np.array([sums.samples, *(sums.totals[k] for k in keys)], np.float64)
    dist.all_reduce(vector)
    total = _state.EpochSums()
    total.samples = int(vector[0])
    total.totals = dict(zip(keys, vector[1:].tolist(), strict=True))
    return total


def reduced_metrics(metrics: list, loader: Any) -> list:
    """Copies of `metrics` whose accumulators (counts, sums, matrices) cover every rank."""
    if not is_sharded(loader):
        return metrics
    reduced = []
    for metric in metrics:
        merged = copy.deepcopy(metric)
        for name, value in metric.state_dict().items():
            setattr(merged, name, _sum_over_ranks(value))
        reduced.append(merged)
    return reduced


def _sum_over_ranks(value: Any) -> Any:
    """Sum a number or array over ranks; arrays are zero-padded to the largest shape.

    (A confusion matrix grows with the classes a rank has seen; R2's sums are
    0.0 until a rank sees data.)
    """
    array = np.asarray(value)
    rows = np.zeros((world_size(), 10), np.int64)  # is float, ndim, shape (ndim <= 8)
    rows[dist.get_rank(), : 2 + array.ndim] = [array.dtype.kind == "f", array.ndim, *array.shape]
    dist.all_reduce(rows)
    ndim = int(rows[:, 1].max())
    shape = tuple(int(s) for s in rows[:, 2 : 2 + ndim].max(0))
    padded = np.zeros(shape, np.float64 if rows[:, 0].any() else np.int64)
    if array.ndim < ndim:
        padded[...] = array  # a scalar 0.0 where the others hold arrays
    else:
        padded[tuple(slice(0, n) for n in array.shape)] = array
    dist.all_reduce(padded)
    return padded if shape else padded.item()
