"""Worker processes for `DataLoader(num_workers=N)`.

The main process decides every batch's indices (so the order, the resume
position and the augmentation seeds never depend on the workers); workers only
run `dataset[i]` and `collate_fn`, and `Pool.imap` hands the batches back in
order. Processes start with 'fork' where the platform has it: the data set is
inherited, not pickled. Elsewhere (Windows, and macOS where fork is unsafe)
batches load in the main process, as with num_workers=0.

Each worker seeds gradwork's random stream with `base_seed + worker_id`, as
torch does, and then calls `worker_init_fn(worker_id)`; `base_seed` is drawn
from (a copy of) the loader's generator, so a seeded loader gives reproducible workers.
"""

from __future__ import annotations

import copy
import multiprocessing
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from gradwork.random import manual_seed

_loader: Any = None  # in a worker: the DataLoader it loads for (inherited through fork)


def fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin"


def start_pool(loader: Any) -> Any:
    """A pool of `loader.num_workers` forked processes, or an in-process stand-in."""
    # From a copy: the loader's own draws (its epochs' orders) must not depend on workers.
    base_seed = int(copy.deepcopy(loader.generator).integers(2**62))
    if not fork_available():
        return _InProcess(loader)
    context = multiprocessing.get_context("fork")
    counter = context.Value("i", 0)
    return context.Pool(
        loader.num_workers, initializer=_start_worker, initargs=(loader, counter, base_seed)
    )


def _start_worker(loader: Any, counter: Any, base_seed: int) -> None:
    global _loader
    _loader = loader
    with counter.get_lock():
        worker_id = counter.value
        counter.value += 1
    manual_seed(base_seed + worker_id)
    if loader.worker_init_fn is not None:
        loader.worker_init_fn(worker_id)


def load_batch(indices: np.ndarray) -> Any:
    """Run in a worker: one batch from the inherited loader's data set."""
    return _loader.collate_fn([_loader.dataset[int(i)] for i in indices])


class _InProcess:
    """The pool's interface, loading in this process (no 'fork' on this platform)."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def imap(self, function: Any, batches: list) -> Iterator[Any]:
        for indices in batches:
            yield self.loader.collate_fn([self.loader.dataset[int(i)] for i in indices])

    def terminate(self) -> None:
        pass

    close = join = terminate
