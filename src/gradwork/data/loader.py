"""`DataLoader`: batches from a data set, shuffled reproducibly, resumable mid-epoch.

Randomness: each loader owns a `numpy.random.Generator`. At the start of an
epoch it remembers the generator's state, then draws the epoch's permutation
(and, with a `transform`, one seed for the epoch's augmentations). A checkpoint
stores (epoch, position, state at epoch start); restoring it replays the same
draws and skips the batches already yielded, so a resumed run is bit-identical
to an uninterrupted one.
"""

from __future__ import annotations

import copy
import math
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from gradwork.data import _workers
from gradwork.data.collate import default_collate
from gradwork.data.dataset import resolve_tensor_source
from gradwork.random import generator as global_generator
from gradwork.tensor import Tensor


def make_generator(generator: Any, seed: Any, owner: str) -> np.random.Generator:
    """The generator to own: the one given, a new one from `seed`, or one from gradwork's."""
    if generator is not None and seed is not None:
        raise ValueError(f"{owner}: pass either generator= or seed=, not both")
    if generator is not None:
        if not isinstance(generator, np.random.Generator):
            raise TypeError(
                f"{owner}: generator must be a numpy.random.Generator, got "
                f"{type(generator).__name__}; or pass seed=<int> instead."
            )
        return generator
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"{owner}: seed must be a non-negative integer, got {seed!r}")
        return np.random.default_rng(int(seed))
    # NOTE: seeded from gradwork's stream so `gradwork.manual_seed` fixes the order.
    return np.random.default_rng(int(global_generator().integers(2**63)))


def _check_batch_size(batch_size: Any) -> None:
    if batch_size is None:
        return
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise TypeError(
            f"DataLoader: batch_size must be a positive int or None (full batch), "
            f"got {batch_size!r} of type {type(batch_size).__name__}"
        )
    if batch_size <= 0:
        raise ValueError(
            f"DataLoader: batch_size must be a positive int, got {batch_size}; use "
            f"batch_size=None for full-batch gradient descent."
        )


def _check_samplers(batch_size: Any, shuffle: Any, sampler: Any, batch_sampler: Any,
                    drop_last: bool, num_workers: Any) -> None:  # fmt: skip
    """torch's rules for combining sampler, batch_sampler and the batching options."""
    if sampler is not None and shuffle:
        raise ValueError("sampler option is mutually exclusive with shuffle")
    if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None
                                      or drop_last):  # fmt: skip
        raise ValueError(
            "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
            "and drop_last"
        )
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(
            "num_workers option should be non-negative; use num_workers=0 to disable "
            f"multiprocessing. Got {num_workers!r}"
        )


class DataLoader:
    """Iterate over a data set in batches.

    Args:
        dataset: Any object with `len()` and integer indexing.
        batch_size: Samples per batch; None means the whole data set in one batch.
        shuffle: Draw a new permutation every epoch.
        sampler: An iterable of indices (torch's samplers work); excludes `shuffle`.
        batch_sampler: An iterable of index lists, one per batch; excludes
            batch_size, shuffle, sampler and drop_last, as in torch.
        num_workers: Load batches in this many processes (forked; on platforms
            without 'fork' they load in this process). Order, seeds and resume
            are the same as with 0. A TensorDataset with the default collate is
            always cut in this process: one NumPy index beats any worker.
        collate_fn: Turns a list of samples into a batch (default: `default_collate`).
        pin_memory: Accepted; a no-op on the CPU (so are pin_memory_device,
            timeout, prefetch_factor, in_order and multiprocessing_context).
        drop_last: Drop the last batch when it is smaller than `batch_size`.
        worker_init_fn: Called as `worker_init_fn(worker_id)` in each worker,
            after gradwork's stream is seeded with `base_seed + worker_id`.
        persistent_workers: Keep the worker processes between epochs.
        generator: A `numpy.random.Generator` to own (shared, not copied).
        seed: Seed for a fresh generator. With neither, one is seeded from
            gradwork's stream, so `gradwork.manual_seed` makes runs reproducible.
        transform: Optional batch transform (see `gradwork.data.transforms`),
            applied to the first field of each batch (the inputs). Its random
            draws come from a generator seeded per (epoch, batch), so resuming
            mid-epoch reproduces them too.

    With a `TensorDataset` (or Subsets of one) and the default collate, a batch
    is cut out of each field by one fancy index: no Python loop over samples.
    One iteration at a time per loader: its position is shared state.

    Example:
        >>> import numpy as np
        >>> from gradwork.data import TensorDataset
        >>> ds = TensorDataset(np.arange(10, dtype=np.float32).reshape(5, 2), np.arange(5))
        >>> loader = DataLoader(ds, batch_size=2, shuffle=True, seed=0)
        >>> [tuple(x.shape) for x, y in loader], len(loader)
        ([(2, 2), (2, 2), (1, 2)], 3)
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Any = None,
        batch_sampler: Any = None,
        num_workers: int = 0,
        collate_fn: Callable | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable | None = None,
        multiprocessing_context: Any = None,
        generator: np.random.Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        seed: int | None = None,
        transform: Callable | None = None,
    ) -> None:
        _check_batch_size(batch_size)
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader: dataset must support len() and indexing, got "
                f"{type(dataset).__name__}; wrap arrays in TensorDataset(x, y)."
            )
        _check_samplers(batch_size, shuffle, sampler, batch_sampler, drop_last, num_workers)
        self.dataset = dataset
        self.batch_size = None if batch_sampler is not None else batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.collate_fn = default_collate if collate_fn is None else collate_fn
        self.transform = transform
        self.generator = make_generator(generator, seed, "DataLoader")
        # NOTE: pin_memory (and its device), timeout, prefetch_factor and in_order are
        # kept for torch's scripts and change nothing: CPU arrays need no pinning, and
        # batches always arrive in order (reproducibility and resume depend on it).
        self.num_workers, self.pin_memory, self.timeout = int(num_workers), pin_memory, timeout
        self.worker_init_fn, self.persistent_workers = worker_init_fn, persistent_workers
        self.multiprocessing_context, self.prefetch_factor = (
            multiprocessing_context,
            prefetch_factor,
        )
        self._pool = None
        self._epoch = 0
        self._position = 0
        self._in_progress = False
        self._resume_pending = False
        self._epoch_state = copy.deepcopy(self.generator.bit_generator.state)

    # ------------------------------------------------------------------ sizes
    def _effective_batch_size(self) -> int:
        return max(len(self.dataset), 1) if self.batch_size is None else int(self.batch_size)

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.dataset if self.sampler is None else self.sampler)
        size = self._effective_batch_size()
        return n // size if self.drop_last else math.ceil(n / size)

    # -------------------------------------------------------------- iteration
    def __iter__(self) -> Iterator[Any]:
        if self._resume_pending:
            self._resume_pending = False
        else:
            self._begin_epoch()
        # Replay the epoch's draws from its starting state (a no-op on a fresh epoch).
        self.generator.bit_generator.state = copy.deepcopy(self._epoch_state)
        if self.sampler is None and self.batch_sampler is None:
            order = self.generator.permutation(len(self.dataset)) if self.shuffle else None
        else:  # torch's samplers draw from their own generators
            order = None if self.batch_sampler is not None else np.fromiter(self.sampler, np.int64)
        transform_seed = int(self.generator.integers(2**63)) if self.transform else None
        return self._batches(self._index_batches(order), transform_seed)

    def _index_batches(self, order: np.ndarray | None) -> list:
        """The indices of every batch of the epoch, in order."""
        if self.batch_sampler is not None:
            return [np.asarray(list(batch), np.int64) for batch in self.batch_sampler]
        n = len(self.dataset) if order is None else len(order)
        size = self._effective_batch_size()
        batches = []
        for start in range(0, len(self) * size, size):
            stop = min(start + size, n)
            batches.append(np.arange(start, stop) if order is None else order[start:stop])
        return batches

    def _begin_epoch(self) -> None:
        if self._in_progress:  # the previous epoch was abandoned part-way
            self._epoch += 1
        self._position = 0
        self._in_progress = True
        self._epoch_state = copy.deepcopy(self.generator.bit_generator.state)

    def _batches(self, index_batches: list, transform_seed: int | None) -> Iterator[Any]:
        source = resolve_tensor_source(self.dataset)
        fast = source is not None and self.collate_fn is default_collate
        todo = index_batches[self._position :]
        if fast:  # one fancy index per field: faster than any worker
            loaded = (self._fast_batch(source, indices) for indices in todo)
        elif self.num_workers > 0:
            loaded = self._worker_batches(todo)
        else:
            loaded = (self._slow_batch(indices) for indices in todo)
        for batch_index, batch in enumerate(loaded, start=self._position):
            if self.transform is not None:
                rng = np.random.default_rng([transform_seed, batch_index])
                batch = _apply_to_inputs(self.transform, batch, rng)
            self._position = batch_index + 1
            yield batch
        self._end_epoch()

    def _worker_batches(self, todo: list) -> Iterator[Any]:
        """Batches loaded by `num_workers` processes, handed back in order."""
        pool = self._pool or _workers.start_pool(self)
        if self.persistent_workers and self._pool is None:
            self._pool = pool
            weakref.finalize(self, pool.terminate)  # the workers end with the loader
        finished = False
        try:
            yield from pool.imap(_workers.load_batch, todo)
            finished = True
        finally:
            if not self.persistent_workers:
                if finished:  # let a worker still starting up finish its worker_init_fn
                    pool.close()
                    pool.join()
                else:  # the epoch was cut short: stop the workers now
                    pool.terminate()

    def _end_epoch(self) -> None:
        self._epoch += 1
        self._position = 0
        self._in_progress = False
        self._epoch_state = copy.deepcopy(self.generator.bit_generator.state)

    @staticmethod
    def _fast_batch(source: tuple, indices: np.ndarray) -> tuple[Tensor, ...]:
        base, index_map = source
        rows = indices if index_map is None else index_map[indices]
        return tuple(Tensor(t.array[rows]) for t in base.tensors)

    def _slow_batch(self, indices: np.ndarray) -> Any:
        return self.collate_fn([self.dataset[int(i)] for i in indices])

    # ----------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """A picklable snapshot: epoch, batches yielded in it, generator state at its start.

        Example:
            >>> import numpy as np
            >>> from gradwork.data import TensorDataset
            >>> loader = DataLoader(TensorDataset(np.arange(6)), batch_size=2, seed=0)
            >>> it = iter(loader); _ = next(it)
            >>> loader.state_dict()["position"]
            1
        """
        return {
            "epoch": self._epoch,
            "position": self._position,
            "in_progress": self._in_progress,
            "generator_state": copy.deepcopy(self._epoch_state),
            "dataset_length": len(self.dataset),
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore `state_dict()`; the next iteration continues that epoch where it stopped."""
        missing = {"epoch", "position", "in_progress", "generator_state"} - set(state)
        if missing:
            raise ValueError(
                f"DataLoader.load_state_dict: missing keys {sorted(missing)}; pass a dict "
                f"returned by DataLoader.state_dict()"
            )
        for key in ("dataset_length", "batch_size", "shuffle", "drop_last"):
            mine = len(self.dataset) if key == "dataset_length" else getattr(self, key)
            if key in state and state[key] != mine:
                raise ValueError(
                    f"DataLoader.load_state_dict: the checkpoint has {key}={state[key]!r} but "
                    f"this loader has {key}={mine!r}; build the loader as it was when saved."
                )
        self.generator.bit_generator.state = copy.deepcopy(state["generator_state"])
        self._epoch_state = copy.deepcopy(state["generator_state"])
        self._epoch = int(state["epoch"])
        self._position = int(state["position"])
        self._in_progress = bool(state["in_progress"])
        self._resume_pending = self._in_progress

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last})"
        )


def _apply_to_inputs(transform: Callable, batch: Any, rng: np.random.Generator) -> Any:
    if isinstance(batch, tuple | list):
        fields = [transform(batch[0], generator=rng), *batch[1:]]
        if hasattr(batch, "_fields"):  # a namedtuple
            return type(batch)(*fields)
        return type(batch)(fields)
    return transform(batch, generator=rng)
