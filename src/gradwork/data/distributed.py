"""`DistributedSampler`: each rank's share of a data set, as torch.utils.data.distributed's."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from gradwork import distributed as dist


class DistributedSampler:
    """The indices of one rank's shard: every `num_replicas`-th of a (shuffled) order.

    Torch's rules: without `drop_last`, the order is padded with its own first
    indices to a multiple of `num_replicas`, so every rank gets the same number
    of samples (and takes the same number of steps); with it, the tail is
    dropped instead. The shuffle is seeded by `seed + epoch`, the same on every
    rank, so the shards never overlap: call `set_epoch(epoch)` at the start of
    each epoch (the Trainer does) for a new order. NOTE: the permutation comes
    from NumPy's generator, so the shards are torch's in size, not in order.

    Args:
        dataset: anything with `len()`.
        num_replicas: the number of ranks (default: the process group's size).
        rank: this rank (default: the process group's rank).
        shuffle: shuffle the order each epoch.
        seed: the shuffle's seed, the same on every rank.
        drop_last: drop the tail instead of padding.

    Example:
        >>> sampler = DistributedSampler(range(10), num_replicas=4, rank=1, shuffle=False)
        >>> list(sampler), len(sampler)
        ([1, 5, 9], 3)
        >>> list(DistributedSampler(range(10), 4, 1, shuffle=False, drop_last=True))
        [1, 5]
    """

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            if not dist.is_initialized():
                raise RuntimeError(
                    "DistributedSampler: num_replicas and rank default to the process group's, "
                    "but none is initialized: call gradwork.distributed.init_process_group() "
                    "first, or pass num_replicas and rank"
                )
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.epoch = 0
        length = len(dataset)
        if drop_last and length % num_replicas:
            self.num_samples = math.ceil((length - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(length / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self) -> Iterator[int]:
        length = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(length)
        else:
            order = np.arange(length)
        if self.drop_last:
            order = order[: self.total_size]
        elif self.total_size > length:
            repeats = math.ceil((self.total_size - length) / max(length, 1))
            order = np.concatenate([order, np.tile(order, repeats)[: self.total_size - length]])
        return iter(order[self.rank : self.total_size : self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use the order of `epoch` (the same on every rank) from the next iteration on."""
        self.epoch = epoch

    def __repr__(self) -> str:
        return (
            f"DistributedSampler({len(self.dataset)} samples, rank {self.rank} of "
            f"{self.num_replicas}, shuffle={self.shuffle}, seed={self.seed}, "
            f"drop_last={self.drop_last})"
        )
