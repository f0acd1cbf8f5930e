"""DataLoader's torch arguments: samplers, batch_sampler, worker processes, no-op options."""

import numpy as np
import pytest

import gradwork as gw
from gradwork.data import DataLoader, Dataset, TensorDataset
from gradwork.data._workers import fork_available


class Squares(Dataset):
    """A map-style data set with Python __getitem__: the path workers serve."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.float32(i * i), np.int64(i)


def _epochs(loader, epochs=2):
    return [[y.array.tolist() for _, y in loader] for _ in range(epochs)]


@pytest.mark.parametrize("persistent", [False, True])
def test_workers_give_the_same_batches_as_the_main_process(persistent):
    kwargs = dict(batch_size=3, shuffle=True, seed=5, drop_last=True)
    plain = DataLoader(Squares(20), **kwargs)
    workers = DataLoader(
        Squares(20), num_workers=2, persistent_workers=persistent, pin_memory=True, **kwargs
    )
    assert _epochs(workers) == _epochs(plain)


def test_resume_mid_epoch_with_workers_is_bit_exact():
    def make():
        return DataLoader(Squares(12), batch_size=2, shuffle=True, seed=1, num_workers=2)

    full = make()
    expected = _epochs(full, 3)
    first = make()
    iterator = iter(first)
    seen = [next(iterator)[1].array.tolist() for _ in range(2)]
    state = first.state_dict()
    resumed = make()
    resumed.load_state_dict(state)
    rest = [y.array.tolist() for _, y in resumed]
    assert seen + rest == expected[0]
    assert _epochs(resumed, 2) == expected[1:]


def _record_worker(worker_id):
    np.save(f"worker_{worker_id}.npy", gw.rand(1).array)


@pytest.mark.skipif(not fork_available(), reason="workers run in-process without fork")
def test_worker_init_fn_runs_in_each_worker(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loader = DataLoader(Squares(8), batch_size=2, num_workers=2, worker_init_fn=_record_worker)
    list(loader)
    assert sorted(p.name for p in tmp_path.glob("worker_*.npy")) == ["worker_0.npy", "worker_1.npy"]


def test_sampler_and_batch_sampler():
    data = TensorDataset(np.arange(6))
    by_sampler = DataLoader(data, batch_size=4, sampler=[5, 4, 3, 2, 1, 0])
    assert [b[0].array.tolist() for b in by_sampler] == [[5, 4, 3, 2], [1, 0]]
    batches = [[0, 1], [5], [2, 3, 4]]
    by_batches = DataLoader(data, batch_sampler=batches)
    assert len(by_batches) == 3
    assert [b[0].array.tolist() for b in by_batches] == batches


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sampler": [0], "shuffle": True}, "mutually exclusive with shuffle"),
        ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option is mutually exclusive"),
        ({"num_workers": -1}, "num_workers option should be non-negative"),
    ],
)
def test_argument_errors_as_torch(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(TensorDataset(np.arange(3)), **kwargs)


def test_every_torch_argument_is_accepted():
    loader = DataLoader(
        TensorDataset(np.arange(4)), batch_size=2, shuffle=False, sampler=None,
        batch_sampler=None, num_workers=0, collate_fn=None, pin_memory=True, drop_last=False,
        timeout=0, worker_init_fn=None, multiprocessing_context=None, generator=None,
        prefetch_factor=None, persistent_workers=False, pin_memory_device="", in_order=True,
    )  # fmt: skip
    assert [b[0].array.tolist() for b in loader] == [[0, 1], [2, 3]]
