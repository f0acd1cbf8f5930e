"""Dataset, collate and DataLoader semantics: order, shapes, dtypes, fast path, resume."""

import pickle

import numpy as np
import pytest

import gradwork as gw
from gradwork.data import DataLoader, Dataset, Subset, TensorDataset, default_collate
from gradwork.data.transforms import GaussianNoise, RandomHorizontalFlip
from tests.helpers import cpu_only, to_numpy


def make_dataset(n=10, features=3):
    x = np.arange(n * features, dtype=np.float32).reshape(n, features)
    return TensorDataset(x, np.arange(n) % 3)


class PythonDataset(Dataset):
    """A plain map-style data set (no fast path) with the same rows as make_dataset."""

    def __init__(self, n=10, features=3):
        self.inner = make_dataset(n, features)

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, index):
        x, y = self.inner[index]
        return to_numpy(x), int(y.item())


def sample_order(loader):
    """The row order of one epoch, read from the first feature (row i holds 3*i)."""
    return np.concatenate([to_numpy(x)[:, 0] // 3 for x, _ in loader]).astype(int).tolist()


# ----------------------------------------------------------------- datasets
def test_tensor_dataset_items_are_tuples_of_tensors():
    ds = make_dataset()
    x, y = ds[4]
    assert isinstance(x, gw.Tensor) and isinstance(y, gw.Tensor)
    assert to_numpy(x).tolist() == [12.0, 13.0, 14.0] and y.item() == 1
    assert ds[-1][1].item() == 0  # negative index from the end, like a list
    assert x.dtype == np.float32 and y.dtype == np.int64


@cpu_only
def test_tensor_dataset_shares_numpy_memory():
    array = np.zeros((4, 2), np.float32)
    ds = TensorDataset(array)
    array[1, 0] = 5.0
    assert to_numpy(ds[1][0])[0] == 5.0


def test_tensor_dataset_from_lists_uses_gradwork_dtypes():
    x, y = TensorDataset([[0.5, 1.5], [2.5, 3.5]], [0, 1]).tensors
    assert x.dtype == np.float32 and y.dtype == np.int64


def test_subset_maps_indices_and_nests():
    ds = make_dataset()
    outer = Subset(Subset(ds, [9, 8, 7, 6]), [3, 0])
    assert len(outer) == 2
    assert to_numpy(outer[0][0])[0] == 18.0 and to_numpy(outer[1][0])[0] == 27.0
    assert outer.indices.dtype == np.int64 and isinstance(outer.dataset, Subset)


def test_dataset_is_abstract():
    with pytest.raises(TypeError):
        Dataset()


# ------------------------------------------------------------------ collate
def test_default_collate_structures_and_dtypes():
    samples = [({"a": np.float64(i), "b": [i, float(i)]}, "s") for i in range(3)]
    batch, names = default_collate(samples)
    assert batch["a"].dtype == np.float64  # a float64 field stays float64
    assert batch["b"][0].dtype == np.int64 and batch["b"][1].dtype == np.float32
    assert names == ["s", "s", "s"] and to_numpy(batch["b"][0]).tolist() == [0, 1, 2]


# ------------------------------------------------------------------- loader
@pytest.mark.parametrize("batch_size, drop_last, expected", [
    (1, False, [1] * 10), (3, False, [3, 3, 3, 1]), (3, True, [3, 3, 3]),
    (4, True, [4, 4]), (10, False, [10]), (None, False, [10]), (25, False, [10]),
    (25, True, []),
])  # fmt: skip
def test_batch_sizes_and_len(batch_size, drop_last, expected):
    loader = DataLoader(make_dataset(), batch_size=batch_size, drop_last=drop_last)
    assert [len(y) for _, y in loader] == expected
    assert len(loader) == len(expected)


def test_batch_shapes_and_dtypes():
    ds = TensorDataset(np.zeros((7, 1, 4, 4), np.float32), np.arange(7), np.zeros(7))
    x, y, z = next(iter(DataLoader(ds, batch_size=5)))
    assert x.shape == (5, 1, 4, 4) and x.dtype == np.float32
    assert y.shape == (5,) and y.dtype == np.int64
    assert z.dtype == np.float64  # the dataset's dtype is kept


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("dataset_kind", ["tensor", "subset", "python"])
def test_every_sample_once_per_epoch(shuffle, dataset_kind):
    base = make_dataset(23) if dataset_kind != "python" else PythonDataset(23)
    ds = Subset(base, np.arange(23)[::-1]) if dataset_kind == "subset" else base
    loader = DataLoader(ds, batch_size=4, shuffle=shuffle, seed=3)
    for _ in range(3):
        order = sample_order(loader)
        assert sorted(order) == list(range(23))
    assert (order == list(range(23))[:: -1 if dataset_kind == "subset" else 1]) != shuffle


def test_shuffle_reproducible_per_seed_and_differs_across_epochs():
    first = DataLoader(make_dataset(50), batch_size=8, shuffle=True, seed=7)
    second = DataLoader(make_dataset(50), batch_size=8, shuffle=True, seed=7)
    epochs = [sample_order(first) for _ in range(3)]
    assert epochs == [sample_order(second) for _ in range(3)]
    assert epochs[0] != epochs[1] != epochs[2]
    other = DataLoader(make_dataset(50), batch_size=8, shuffle=True, seed=8)
    assert sample_order(other) != epochs[0]


def test_loader_without_seed_follows_manual_seed():
    gw.manual_seed(11)
    a = sample_order(DataLoader(make_dataset(40), batch_size=8, shuffle=True))
    gw.manual_seed(11)
    b = sample_order(DataLoader(make_dataset(40), batch_size=8, shuffle=True))
    gw.manual_seed(12)
    c = sample_order(DataLoader(make_dataset(40), batch_size=8, shuffle=True))
    assert a == b and a != c


def test_given_generator_is_used():
    order = sample_order(
        DataLoader(
            make_dataset(30), batch_size=30, shuffle=True, generator=np.random.default_rng(5)
        )
    )
    assert order == np.random.default_rng(5).permutation(30).tolist()


@pytest.mark.parametrize("batch_size", [1, 3, None])
def test_fast_path_equals_slow_path(batch_size):
    fast = DataLoader(make_dataset(11), batch_size=batch_size, shuffle=True, seed=1)
    slow = DataLoader(PythonDataset(11), batch_size=batch_size, shuffle=True, seed=1)
    explicit = DataLoader(
        make_dataset(11), batch_size=batch_size, shuffle=True, seed=1,
        collate_fn=lambda samples: default_collate(samples),
    )  # fmt: skip
    for _ in range(2):
        for (xf, yf), (xs, ys), (xe, ye) in zip(fast, slow, explicit, strict=True):
            assert xf.dtype == xs.dtype == xe.dtype and yf.dtype == ys.dtype == ye.dtype
            np.testing.assert_array_equal(to_numpy(xf), to_numpy(xs))
            np.testing.assert_array_equal(to_numpy(yf), to_numpy(ye))


def test_fast_path_avoids_getitem(monkeypatch):
    calls = []
    original = TensorDataset.__getitem__
    monkeypatch.setattr(
        TensorDataset, "__getitem__", lambda s, i: calls.append(i) or original(s, i)
    )
    batches = list(DataLoader(make_dataset(6), batch_size=3))
    assert calls == [] and len(batches) == 2  # one fancy index per field, no item calls


def test_subclass_overriding_getitem_takes_the_slow_path():
    class Doubled(TensorDataset):
        def __getitem__(self, index):
            x, y = super().__getitem__(index)
            return x * 2.0, y

    x, _ = next(iter(DataLoader(Doubled(np.ones((4, 2), np.float32), np.arange(4)), 4)))
    assert to_numpy(x).tolist() == [[2.0, 2.0]] * 4


def test_custom_collate():
    loader = DataLoader(make_dataset(5), batch_size=2, collate_fn=lambda s: len(s))
    assert list(loader) == [2, 2, 1]


def test_full_batch_is_whole_dataset_every_epoch():
    loader = DataLoader(make_dataset(9), batch_size=None, shuffle=True, seed=0)
    batches = [list(loader) for _ in range(2)]
    assert [len(b) for b in batches] == [1, 1]
    assert sorted(to_numpy(batches[0][0][1]).tolist()) == sorted([i % 3 for i in range(9)])


def test_empty_dataset_gives_no_batches():
    loader = DataLoader(TensorDataset(np.zeros((0, 2))), batch_size=None)
    assert len(loader) == 0 and list(loader) == []


# ------------------------------------------------------------------- resume
def collect(loader, epochs):
    return [[to_numpy(b[0]).copy() for b in loader] for _ in range(epochs)]


@pytest.mark.parametrize("stop_after", [0, 1, 3, 4])
@pytest.mark.parametrize("transform", [None, RandomHorizontalFlip()])
def test_resume_mid_epoch_bit_exact(stop_after, transform):
    x = np.random.default_rng(0).standard_normal((17, 1, 2, 3)).astype(np.float32)
    ds = TensorDataset(x, np.arange(17))

    def build(seed=4):
        return DataLoader(ds, batch_size=4, shuffle=True, seed=seed, transform=transform)

    reference = collect(build(), 4)  # 5 batches per epoch, the last of 1
    loader = build()
    next(iter(loader))  # epoch 0 finished early (abandoned) ...
    loader = build()
    collect(loader, 1)  # ... or a full epoch 0, then epoch 1 part-way:
    iterator = iter(loader)
    seen = [to_numpy(next(iterator)[0]).copy() for _ in range(stop_after)]
    state = pickle.loads(pickle.dumps(loader.state_dict()))
    assert state["epoch"] == 1 and state["position"] == stop_after

    restored = build(seed=999)  # a different seed: everything must come from the state
    restored.load_state_dict(state)
    rest = collect(restored, 3)
    resumed = [seen + rest[0], rest[1], rest[2]]
    for expected, got in zip(reference[1:], resumed, strict=True):
        assert len(expected) == len(got)
        for a, b in zip(expected, got, strict=False):
            np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


def test_state_at_epoch_boundary_starts_next_epoch():
    reference = DataLoader(make_dataset(12), batch_size=5, shuffle=True, seed=2)
    expected = [sample_order(reference) for _ in range(3)]
    loader = DataLoader(make_dataset(12), batch_size=5, shuffle=True, seed=2)
    sample_order(loader)
    state = loader.state_dict()
    assert state["epoch"] == 1 and state["position"] == 0 and not state["in_progress"]
    restored = DataLoader(make_dataset(12), batch_size=5, shuffle=True, seed=0)
    restored.load_state_dict(state)
    assert [sample_order(restored) for _ in range(2)] == expected[1:]


def test_abandoned_epoch_counts_and_next_iteration_is_new_epoch():
    loader = DataLoader(make_dataset(12), batch_size=5, shuffle=True, seed=2)
    iterator = iter(loader)
    next(iterator)
    assert loader.state_dict()["position"] == 1
    assert len(list(loader)) == 3  # a new, full epoch
    assert loader.state_dict()["epoch"] == 2


def test_transform_hook_applies_to_inputs_only():
    ds = TensorDataset(np.zeros((6, 1, 2, 2), np.float32), np.arange(6))
    loader = DataLoader(ds, batch_size=3, transform=GaussianNoise(1.0), seed=0)
    x, y = next(iter(loader))
    assert to_numpy(x).std() > 0.3 and to_numpy(y).tolist() == [0, 1, 2]
    assert np.all(to_numpy(ds.tensors[0]) == 0)  # the data set itself is untouched
