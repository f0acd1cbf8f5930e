"""DistributedSampler: torch's shard sizes, padding and dropping; disjoint shuffled shards."""

import numpy as np
import pytest

from gradwork.data import DataLoader, DistributedSampler, TensorDataset


@pytest.mark.parametrize("length", [0, 1, 5, 10, 13])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_shards_equal_torchs(torch, length, replicas, drop_last):
    from torch.utils.data import DistributedSampler as TorchSampler

    for rank in range(replicas):
        ours = DistributedSampler(range(length), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(range(length), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)


def test_shuffled_shards_cover_the_data_once_and_change_with_the_epoch():
    samplers = [DistributedSampler(range(10), 2, rank, seed=3) for rank in range(2)]
    first = [list(s) for s in samplers]
    assert sorted(first[0] + first[1]) == list(range(10))
    assert first == [list(s) for s in samplers]  # same epoch, same order
    for sampler in samplers:
        sampler.set_epoch(1)
    second = [list(s) for s in samplers]
    assert second != first and sorted(second[0] + second[1]) == list(range(10))


def test_padding_repeats_the_first_indices_so_ranks_take_equal_steps():
    shards = [list(DistributedSampler(range(5), 3, r, shuffle=False)) for r in range(3)]
    assert shards == [[0, 3], [1, 4], [2, 0]]


def test_a_loader_with_the_sampler_yields_the_shard():
    data = TensorDataset(np.arange(8.0), np.arange(8))
    loader = DataLoader(data, batch_size=2, sampler=DistributedSampler(data, 2, 1, shuffle=False))
    assert [b[1].tolist() for b in loader] == [[1, 3], [5, 7]]
    assert len(loader) == 2


def test_bad_arguments_raise_torchs_errors():
    message = r"Invalid rank 2, rank should be in the interval \[0, 1\]"
    with pytest.raises(ValueError, match=message):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))  # no process group to take the defaults from
